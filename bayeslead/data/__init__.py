"""Reading, validating and scoring survey responses, and data-quality checks."""

from bayeslead.data.intake import ResponseData, load_responses
from bayeslead.data.quality import missing_patterns, quality_summary, quality_table
from bayeslead.data.read import RawTable, read_columns, read_table
from bayeslead.data.usable import check_usable_columns

__all__ = [
    "RawTable",
    "ResponseData",
    "check_usable_columns",
    "load_responses",
    "missing_patterns",
    "quality_summary",
    "quality_table",
    "read_columns",
    "read_table",
]
