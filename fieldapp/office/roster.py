"""Importing a household roster at the office (issue 9)."""

from __future__ import annotations

import flet as ft


def roster_panel(ctx) -> ft.Control:
    return ft.Column([ft.Text(ctx.t("nav_import"), size=18, weight=ft.FontWeight.BOLD)], expand=True)
