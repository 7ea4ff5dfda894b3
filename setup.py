"""Build the Cython kernels in ``native/``.

Every ``native/_*.pyx`` becomes the extension ``native._*``; its pure-Python twin lives in
``native/reference/``. Compiler directives are set here, once, for every kernel.
``TITAN_NO_NATIVE=1`` skips the build entirely (``native`` then loads the references).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent
NO_NATIVE = os.environ.get("TITAN_NO_NATIVE", "") not in ("", "0")

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "nonecheck": False,
    "cdivision": True,
    "infer_types": True,
    "embedsignature": True,
}


def _extensions() -> list[Extension]:
    if NO_NATIVE:
        return []
    import numpy
    from Cython.Build import cythonize

    sources = sorted(ROOT.glob("native/_*.pyx"))
    extensions = [
        Extension(
            name=f"native.{src.stem}",
            sources=[str(src.relative_to(ROOT))],
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            # no FMA contraction: streaming, batch and the Python twins must agree bit for bit on
            # every architecture (GCC fuses a*b+c by default on ARM)
            extra_compile_args=["-O3", "-ffp-contract=off"] if os.name != "nt" else ["/O2", "/fp:precise"],
        )
        for src in sources
    ]
    return cythonize(
        extensions,
        compiler_directives=COMPILER_DIRECTIVES,
        nthreads=int(os.environ.get("TITAN_BUILD_JOBS", "0")) or (os.cpu_count() or 1),
        quiet=True,
    )


setup(ext_modules=_extensions())
