"""Importing a household roster at the office (issue 9): choose the file, see what it
would do (how many new, updated, unchanged, and every refused row with its reasons),
then import it; the template and each report download as .xlsx.

The file's bytes come with the picker's answer (`with_data`): a roster is a few MB at
most, and nothing of it is left in a folder on the server. The checking and writing
are sync/server/roster.py's, run off the page's loop, as the signed-in clerk."""

from __future__ import annotations

import asyncio
import logging

import flet as ft

from sync.server import roster

from .. import i18n

SHOWN = 200   # refused rows and updates listed on the screen; the report has them all

ROSTER_STRINGS = {
    "roster_title": ("导入住户花名册", "Import a household roster"),
    "roster_help": ("支持 Excel（.xlsx）和 CSV（UTF-8 或 GB18030）。按表头名称识别列（户主姓名、身份证号、联系电话、住址、"
                    "村（社区）、网格、户号、家庭成员、关注类别、备注），顺序不限。已登记的住户按身份证号或户号对应，"
                    "再次导入只更新有变化的项目，不会重复登记。",
                    "Excel (.xlsx) or CSV (UTF-8 or GB18030). Columns are found by their headers, in any order. "
                    "Households already registered are matched by ID number or household number: importing again "
                    "updates what changed and never registers anyone twice."),
    "roster_pick": ("选择花名册文件", "Choose the roster file"),
    "roster_template": ("下载模板", "Download the template"),
    "roster_default_grid": ("未填写网格的行归入", "Rows naming no grid go to"),
    "roster_no_default": ("（不指定）", "(none)"),
    "roster_checking": ("正在检查 {name} …", "Checking {name} …"),
    "roster_importing": ("正在导入 {name} …", "Importing {name} …"),
    "roster_failed": ("导入 {name} 时服务器出错，未完成；已记录，请联系管理员。",
                      "The server failed while importing {name}; it has been logged: tell the administrator."),
    "roster_no_data": ("未能读取所选文件的内容，请重新选择。", "The file's content did not arrive: choose it again."),
    "roster_unreadable": ("无法读取 {name}：{why}", "Cannot read {name}: {why}"),
    "roster_preview": ("检查结果：{name}", "What {name} would do"),
    "roster_counts": ("共 {rows} 行：可新增 {imported} 户，将更新 {updated} 户，无变化 {unchanged} 户，拒收 {refused} 行；"
                      "跳过空行和表尾 {skipped} 行",
                      "{rows} rows: {imported} new, {updated} to update, {unchanged} unchanged, {refused} refused; "
                      "{skipped} blank or trailing lines skipped"),
    "roster_done": ("已导入 {name}：新增 {imported} 户，更新 {updated} 户，无变化 {unchanged} 户，拒收 {refused} 行",
                    "Imported {name}: {imported} new, {updated} updated, {unchanged} unchanged, {refused} refused"),
    "roster_columns": ("已识别的列：{cols}", "Columns found: {cols}"),
    "roster_unused": ("未使用的列：{cols}", "Columns not used: {cols}"),
    "roster_sheets_not_read": ("只导入了第一个花名册工作表；工作表“{sheets}”未导入：请将其另存为单独的文件后再导入。",
                               "Only the first roster sheet was read; not read: {sheets}. Save each as a workbook"
                               " of its own and import it."),
    "roster_refused": ("拒收的行（不导入；修改后可再次导入）", "Refused rows (not imported; correct them and import again)"),
    "roster_updates": ("将更新的住户", "Households to update"),
    "roster_updated": ("已更新的住户", "Households updated"),
    "roster_row": ("第{row}行", "Row {row}"),
    "roster_more": ("另有 {n} 行，见报告", "{n} more in the report"),
    "roster_commit": ("确认导入（新增 {imported} 户，更新 {updated} 户）", "Import ({imported} new, {updated} updated)"),
    "roster_nothing": ("没有需要导入的内容", "Nothing to import"),
    "roster_report": ("下载检查报告", "Download the check report"),
    "roster_final_report": ("下载导入报告", "Download the import report"),
    "roster_again": ("选择其他文件", "Choose another file"),
}
i18n.STRINGS.update(ROSTER_STRINGS)


def roster_panel(ctx) -> ft.Control:
    state: dict = {"data": None, "name": "", "grid": None}
    picker = _picker(ctx)
    body = ft.Column(spacing=8, expand=True, scroll=ft.ScrollMode.AUTO)
    busy = ft.Row([ft.ProgressRing(width=18, height=18, stroke_width=2), ft.Text("")], visible=False)
    grids = ctx.ws.grid_list()
    default_grid = ft.Dropdown(label=ctx.t("roster_default_grid"), width=260, dense=True, value="",
                               options=[ft.dropdown.Option("", ctx.t("roster_no_default"))]
                               + [ft.dropdown.Option(g["id"], g.get("name") or g["id"]) for g in grids])

    def working(text: str | None) -> None:
        busy.visible = text is not None
        busy.controls[1].value = text or ""

    async def run(dry_run: bool):
        """The outcome, or a message for the screen (a file that cannot be read; a
        failure of the server, logged, never shown as a crash of the page)."""
        grid = default_grid.value or None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, lambda: roster.import_roster(ctx.store, ctx.ws.principal, state["data"], state["name"], grid,
                                                   dry_run=dry_run))
        except roster.Unreadable as err:
            return ctx.t("roster_unreadable", name=state["name"], why=err.zh if ctx.lang == "zh" else str(err))
        except Exception:
            logging.getLogger("gridbook").exception("roster import failed")
            return ctx.t("roster_failed", name=state["name"])

    def failed(text: str) -> None:
        working(None)
        body.controls = [ft.Text(text, color=ft.Colors.RED_700)]
        ctx.page.update()

    async def pick(e) -> None:
        if not ctx.act(lambda: None):
            return
        files = await picker.pick_files(
            dialog_title=ctx.t("roster_pick"), file_type=ft.FilePickerFileType.CUSTOM,
            allowed_extensions=["xlsx", "csv", "txt"], with_data=True, cancel_upload_on_window_blur=False)
        if not files:
            return
        f = files[0]
        if f.bytes is None:
            body.controls = [ft.Text(ctx.t("roster_no_data"), color=ft.Colors.RED_700)]
            ctx.page.update()
            return
        state["data"], state["name"] = f.bytes, f.name
        await check()

    async def check() -> None:
        working(ctx.t("roster_checking", name=state["name"]))
        body.controls = []
        ctx.page.update()
        out = await run(dry_run=True)
        if isinstance(out, str):
            return failed(out)
        working(None)
        show(out, committed=False)
        ctx.page.update()

    async def commit(e) -> None:
        if not ctx.act(lambda: None):
            return
        working(ctx.t("roster_importing", name=state["name"]))
        e.control.disabled = True
        ctx.page.update()
        out = await run(dry_run=False)
        if isinstance(out, str):
            return failed(out)
        working(None)
        show(out, committed=True)
        ctx.snack(ctx.t("roster_done", name=out.file, **out.counts()))
        ctx.page.update()

    def show(out: roster.Outcome, committed: bool) -> None:
        key = roster.keep_report(ctx.ws.username, roster.report_bytes(out))
        c = out.counts()
        title = ctx.t("roster_done", name=out.file, **c) if committed else ctx.t("roster_preview", name=out.file)
        controls: list[ft.Control] = [
            ft.Text(title, size=16, weight=ft.FontWeight.BOLD,
                    color=ft.Colors.GREEN_800 if committed else None)]
        if not committed:
            controls.append(ft.Text(ctx.t("roster_counts", **c)))
        controls.append(ft.Text(ctx.t("roster_columns", cols=ctx.listed(
            roster.rr.label(f, ctx.lang) + ctx.aside(h) if h != roster.rr.label(f, ctx.lang) else h
            for f, h in out.columns.items())),
            color=ft.Colors.GREY_800))
        if out.unused:
            controls.append(ft.Text(ctx.t("roster_unused", cols=ctx.listed(out.unused)), color=ft.Colors.GREY_700))
        if out.sheets_not_read:
            controls.append(ft.Text(ctx.t("roster_sheets_not_read", sheets=ctx.listed(out.sheets_not_read)),
                                    color=ft.Colors.ORANGE_900))
        buttons = []
        if not committed:
            todo = c["imported"] + c["updated"]
            buttons.append(ft.FilledButton(
                ctx.t("roster_commit", **c) if todo else ctx.t("roster_nothing"), icon=ft.Icons.DONE_ALL,
                disabled=not todo, on_click=commit))
        buttons.append(ft.OutlinedButton(ctx.t("roster_final_report" if committed else "roster_report"),
                                         icon=ft.Icons.DOWNLOAD,
                                         on_click=lambda e: ctx.download("roster_report.xlsx", report=key)))
        controls.append(ft.Row(buttons, wrap=True))
        if out.refused:
            controls.append(ft.Text(ctx.t("roster_refused") + ctx.aside(len(out.refused)),
                                    weight=ft.FontWeight.BOLD, color=ft.Colors.RED_800))
            # the reasons in the screen's language (the report stays Chinese, as documents do)
            controls += [_line(ctx, got.row, got.values.get("head_name") or "",
                               ctx.clauses(roster.rr.said(r, ctx.lang) for r in got.reasons), ft.Colors.RED_700)
                         for got in out.refused[:SHOWN]]
            if len(out.refused) > SHOWN:
                controls.append(ft.Text(ctx.t("roster_more", n=len(out.refused) - SHOWN), color=ft.Colors.GREY_700))
        updates = [ch for ch in out.changes if ch[3]]
        if updates:
            controls.append(ft.Text(ctx.t("roster_updated" if committed else "roster_updates") + ctx.aside(len(updates)),
                                    weight=ft.FontWeight.BOLD))
            controls += [_line(ctx, row, head,
                               ctx.clauses(ctx.labelled(n, f"{a or '—'} → {b or '—'}") for n, a, b in diff), None)
                         for row, _, head, diff in updates[:SHOWN]]
        body.controls = controls

    return ft.Column([
        ft.Text(ctx.t("roster_title"), size=18, weight=ft.FontWeight.BOLD),
        ft.Text(ctx.t("roster_help"), color=ft.Colors.GREY_800),
        ft.Row([ft.FilledButton(ctx.t("roster_pick"), icon=ft.Icons.UPLOAD_FILE, on_click=pick),
                default_grid,
                ft.OutlinedButton(ctx.t("roster_template"), icon=ft.Icons.DOWNLOAD,
                                  on_click=lambda e: ctx.download("roster_template.xlsx"))], wrap=True),
        busy, body], expand=True, spacing=10)


def _line(ctx, row: int, head: str, text: str, colour) -> ft.Control:
    return ft.Container(ft.Row([
        ft.Text(ctx.t("roster_row", row=row), width=70), ft.Text(head, width=90, max_lines=1,
                                                                 overflow=ft.TextOverflow.ELLIPSIS),
        ft.Text(text, expand=True, color=colour)], spacing=8, vertical_alignment=ft.CrossAxisAlignment.START),
        padding=ft.Padding.symmetric(vertical=4, horizontal=4),
        border=ft.Border.only(bottom=ft.BorderSide(1, ft.Colors.GREY_200)))


def _picker(ctx) -> ft.FilePicker:
    """One file picker per tab (a service: kept referenced, or it is unregistered)."""
    picker = getattr(ctx, "_roster_picker", None)
    if picker is None:
        picker = ft.FilePicker()
        ctx.page.services.append(picker)
        ctx._roster_picker = picker
    return picker
