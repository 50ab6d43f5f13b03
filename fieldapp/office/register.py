"""Registering a matter from any channel (集): walk-in, letter, phone, online, grid
report, screening, discipline referral, handed down from above. Every field says its
limit before anyone types, every refusal appears next to its field, and the
duplicate check warns of a claim already finally decided (复核终结)."""

from __future__ import annotations

import flet as ft

from sync import codes
from sync.queries import leaders

from ..screens.widgets import named
from ..worklist import split_parties, today_cst
from .forms import MAX_VISITORS, Form, date_field, text_field, visitor_count, whole_number


def register_panel(ctx) -> ft.Control:
    from .matter import open_matter
    lang = ctx.lang
    channel = ft.Dropdown(label=ctx.t("channel") + " *", width=220, value="visit", options=[
        ft.DropdownOption(key=k, text=row[lang]) for k, row in codes.CHANNELS.items()])
    kind = ft.RadioGroup(value="petition", content=ft.Row(
        [ft.Radio(value=k, label=row[lang]) for k, row in codes.CASE_KINDS.items()]))
    category = ft.Dropdown(label=ctx.t("category") + " *", width=240, options=[
        ft.DropdownOption(key=k, text=f"{k} {row[lang]}") for k, row in codes.CATEGORIES.items()])
    grid = ft.Dropdown(label=ctx.t("grid") + " *", width=260, options=[
        ft.DropdownOption(key=g["id"], text=f"{g['village']} · {g['name']}") for g in ctx.ws.grid_list()])
    parties = text_field(ctx, "parties", hint=ctx.t("parties_hint"), max_length=600)
    description = text_field(ctx, "description", multiline=True, required=True)
    place = text_field(ctx, "place")
    phone = text_field(ctx, "petitioner_phone", width=260)
    reception = ft.Dropdown(label=ctx.t("office_reception_leader"), width=260, options=[
        ft.DropdownOption(key=p["username"], text=p["name"]) for p in leaders(ctx.ws.replica)])
    visitors = ft.TextField(label=ctx.t("visitors_row"), width=200, keyboard_type=ft.KeyboardType.NUMBER,
                            max_length=5, helper=ctx.t("group_size_hint"), error_max_lines=2)
    # the day the letter, call or visit reached the office: the statutory days run from it
    # (条例 arts. 22, 23), and a letter of last week typed today was dated today, its notice
    # told the petitioner so, and its limits ran a week late
    received = date_field(ctx, "received_on", value=today_cst().isoformat(), width=220, required=True)
    higher_ref = text_field(ctx, "higher_ref", width=260)
    higher_deadline = date_field(ctx, "higher_deadline", width=260)
    litigation = ft.Checkbox(label=ctx.t("litigation_box"))
    form = Form(ctx, {"channel": channel, "received_on": received, "category": category, "grid_id": grid,
                      "parties": parties, "petitioner_phone": phone,
                      "description": description, "place": place, "reception_leader": reception,
                      "visitors": visitors, "higher_ref": higher_ref, "higher_deadline": higher_deadline})
    dups = ft.Column()

    def fields() -> dict:
        text = (description.value or "").strip()
        f = {"channel": channel.value, "kind": kind.value, "category": category.value, "grid_id": grid.value,
             "parties": split_parties(parties.value or ""), "description": text,
             "place": (place.value or "").strip(), "title": text[:20],
             "petitioner_phone": (phone.value or "").strip(),
             "received_on": (received.value or "").strip()}
        if channel.value == "visit":
            if reception.value:
                f["reception_leader"] = reception.value
            n = whole_number(visitors.value)
            if n is not None:
                f["visitors"] = n
        if channel.value == "handed_down":
            f["higher_ref"] = (higher_ref.value or "").strip()
            f["higher_deadline"] = (higher_deadline.value or "").strip()
        if litigation.value:
            f["litigation"] = True
        return f

    def check(e=None) -> list:
        ctx.touch()
        found = ctx.ws.likely_duplicates(fields())
        dups.controls = [ft.Text(ctx.t("duplicates") if found else ctx.t("no_duplicates"),
                                 weight=ft.FontWeight.BOLD if found else None)]
        dups.controls += [ft.ListTile(title=ft.Text(f"{d.get('ref') or ''} {d.get('title') or d['description'][:20]}"),
                                      subtitle=ft.Text(ctx.t(f"dup_{why}"),
                                                       color=ft.Colors.RED_700 if why == "final" else None),
                                      on_click=lambda e, cid=d["id"]: open_matter(ctx, cid))
                          for d, why in found]
        if e is not None:
            ctx.page.update()
        return found

    last: dict = {}   # what this form registered last: {"fields", "id"}

    def save(e) -> None:
        form.clear()
        ok = form.required("received_on", "category", "grid_id", "description")
        on = form.dates("received_on")["received_on"]
        # only the fields the channel shows (as fields() writes them): a wrong 来访人数 left
        # behind a switch to 来信 blocked the save with nothing on screen to say why
        if channel.value == "handed_down":
            form.dates("higher_deadline")
        if channel.value == "visit" and (visitors.value or "").strip() and visitor_count(visitors.value) is None:
            form.say("visitors", ctx.t("number_between", lo=1, hi=MAX_VISITORS))
        if channel.value == "handed_down" and not (higher_ref.value or "").strip():
            form.say("higher_ref", ctx.t("required_field"))
        if not ok or form.has_errors:
            ctx.page.update()
            return
        typed = {**fields(), "received_on": on.isoformat()}   # as the ledger writes a day
        if last.get("fields") == typed:
            # the second click of a double click, queued behind the first (a page runs its
            # handlers one after another): it registered the same matter again, with the
            # next reference. The same form saved twice is the one matter.
            ctx.snack(ctx.t("registered_already"))
            open_matter(ctx, last["id"])
            ctx.page.update()
            return
        holder = {}

        def register():
            holder["id"] = ctx.ws.register_matter(typed, on=on)
        if form.run(register):
            last.update(fields=typed, id=holder["id"])
            ctx.snack(ctx.t("registered"))
            open_matter(ctx, holder["id"])
        ctx.page.update()

    def channel_changed(e) -> None:
        walk_in = channel.value == "visit"
        handed = channel.value == "handed_down"
        reception.visible = visitors.visible = walk_in
        higher_ref.visible = higher_deadline.visible = handed
        ctx.page.update()

    channel.on_select = channel_changed
    higher_ref.visible = higher_deadline.visible = False
    return ft.ListView([
        ft.Text(ctx.t("register_title"), size=20, weight=ft.FontWeight.BOLD),
        ft.Text(ctx.t("required_note"), color=ft.Colors.GREY_700),
        ft.Row([named(channel), received, named(category), named(grid)], wrap=True), kind, parties, phone, description,
        place,
        ft.Row([reception, visitors, higher_ref, higher_deadline], wrap=True), litigation,
        ft.Row([ft.OutlinedButton(ctx.t("check_duplicates"), on_click=check, height=44),
                ft.FilledButton(ctx.t("save"), icon=ft.Icons.SAVE, on_click=save, height=44)]),
        form.foot, dups], expand=True, spacing=10, padding=ft.Padding.only(right=16, bottom=24))
