"""The township's households at the office (issue 9)."""

from __future__ import annotations

import flet as ft


def households_panel(ctx) -> ft.Control:
    return ft.Column([ft.Text(ctx.t("nav_households"), size=18, weight=ft.FontWeight.BOLD)], expand=True)
