"""The error the dataset converters raise for a bad input file."""


class ConversionError(ValueError):
    """A bad input file; the message names the file and what was expected."""
