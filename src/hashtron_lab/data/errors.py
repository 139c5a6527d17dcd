"""The one error type of the data layer."""


class DatasetError(ValueError):
    """Bad dataset config or input. The message names the file, row or key and the fix."""
