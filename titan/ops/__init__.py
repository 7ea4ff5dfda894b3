"""Titan ops."""
