"""The one error type of the model compiler."""


class ModelSourceError(ValueError):
    """A problem in a model source: names the element (``field``) or the source line (``line``)."""

    def __init__(self, field: str, value: str, allowed: str, *, line: int = 0, origin: str = ""):
        where = f"{origin}:{line}: " if line else (f"{origin}: " if origin else "")
        super().__init__(f"{where}{field} = {value} is not allowed: {allowed}")
        self.field = field
        self.line = line
        self.origin = origin
