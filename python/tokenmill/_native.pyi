# Hand-written stubs for the native extension; checked against it by tests/test_package.py.

__all__ = ["__version__", "simd_level"]
__version__: str

def simd_level() -> str: ...
