"""Registering a matter from any channel (集): walk-in, letter, phone, online, grid
report, screening, discipline referral, handed down from above."""

from __future__ import annotations

import datetime as dt

import flet as ft

from sync import codes
from sync.queries import leaders

from ..worklist import split_parties


def register_panel(ctx) -> ft.Control:
    from .matter import open_matter
    lang = ctx.lang
    channel = ft.Dropdown(label=ctx.t("channel"), width=220, value="visit", options=[
        ft.DropdownOption(key=k, text=row[lang]) for k, row in codes.CHANNELS.items()])
    kind = ft.RadioGroup(value="petition", content=ft.Row(
        [ft.Radio(value=k, label=row[lang]) for k, row in codes.CASE_KINDS.items()]))
    category = ft.Dropdown(label=ctx.t("category"), width=220, options=[
        ft.DropdownOption(key=k, text=f"{k} {row[lang]}") for k, row in codes.CATEGORIES.items()])
    grid = ft.Dropdown(label=ctx.t("grid"), width=260, options=[
        ft.DropdownOption(key=g["id"], text=f"{g['village']} · {g['name']}") for g in ctx.ws.grid_list()])
    parties = ft.TextField(label=ctx.t("parties"))
    description = ft.TextField(label=ctx.t("description"), multiline=True, min_lines=3)
    place = ft.TextField(label=ctx.t("place"))
    reception = ft.Dropdown(label=ctx.t("reception_leader"), width=260, options=[
        ft.DropdownOption(key=p["username"], text=p["name"]) for p in leaders(ctx.ws.replica)])
    higher_ref = ft.TextField(label=ctx.t("higher_ref"), width=260)
    higher_deadline = ft.TextField(label=ctx.t("higher_deadline"), width=260)
    dups = ft.Column()
    msg = ft.Text(color=ft.Colors.RED_700)

    def fields() -> dict:
        f = {"channel": channel.value, "kind": kind.value, "category": category.value, "grid_id": grid.value,
             "parties": split_parties(parties.value or ""), "description": (description.value or "").strip(),
             "place": (place.value or "").strip(), "title": (description.value or "").strip()[:20]}
        if channel.value == "visit" and reception.value:
            f["reception_leader"] = reception.value
        if channel.value == "handed_down":
            f["higher_ref"] = (higher_ref.value or "").strip()
            f["higher_deadline"] = (higher_deadline.value or "").strip()
        return f

    def check(e=None) -> None:
        found = ctx.ws.likely_duplicates(fields())
        dups.controls = [ft.Text(ctx.t("duplicates") if found else ctx.t("no_duplicates"),
                                 weight=ft.FontWeight.BOLD if found else None)]
        dups.controls += [ft.ListTile(title=ft.Text(f"{d.get('ref') or ''} {d.get('title') or d['description'][:20]}"),
                                      subtitle=ft.Text(ctx.t(f"dup_{why}")),
                                      on_click=lambda e, cid=d["id"]: open_matter(ctx, cid))
                          for d, why in found]
        ctx.page.update()

    def save(e) -> None:
        f = fields()
        if f.get("higher_deadline"):
            try:
                dt.date.fromisoformat(f["higher_deadline"])
            except ValueError:
                higher_deadline.error = ctx.t("out_of_range")
                ctx.page.update()
                return
        holder = {}

        def register():
            holder["id"] = ctx.ws.register_matter(f)
        if ctx.act(register, done=ctx.t("registered")):
            open_matter(ctx, holder["id"])
        ctx.page.update()

    return ft.ListView([
        ft.Text(ctx.t("register_title"), size=20, weight=ft.FontWeight.BOLD),
        ft.Row([channel, category, grid], wrap=True), kind, parties, description, place,
        ft.Row([reception, higher_ref, higher_deadline], wrap=True),
        ft.Row([ft.OutlinedButton(ctx.t("check_duplicates"), on_click=check, height=44),
                ft.FilledButton(ctx.t("save"), icon=ft.Icons.SAVE, on_click=save, height=44)]),
        msg, dups], expand=True, spacing=10, padding=ft.Padding.only(right=16, bottom=24))
