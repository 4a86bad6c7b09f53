# Each area adds its models in its own module here and re-exports them.
__all__: list[str] = []
