"""Renamed :mod:`.data_shapes`: this name stays only until ``selection/text_checks.py`` imports the new one."""

from .data_shapes import check_shape_columns, parse_row, resolve_columns

__all__ = ["check_shape_columns", "parse_row", "resolve_columns"]
