"""The figures the township reports (接访, 走访, 化解率, 满意度 ...) for any period, by
village, category and channel, with bar charts and a map of open matters.

Every number on this screen comes from `stats.figures`, the count the monthly report
is written from too, under the labels of stats.FIGURES: a figure has one name and one
definition wherever it appears (docs/office.md, "Figures").

The charts are horizontal bars drawn with plain controls: a category's full name
(English ones too) is read beside its bars, each bar carries its number, and every
text is an ordinary Text that Flutter lays out again when the CJK font arrives."""

from __future__ import annotations

import datetime as dt

import flet as ft
import flet_map as fm

from sync import codes
from sync.server import late_entries, stats
from sync.model import FIRST_DAY, LAST_DAY
from sync.rules import format_rate

from ..geo import placed
from ..screens.widgets import ERROR_LINES, RISK_COLOURS, named, risk_colour
from ..worklist import today_cst

PRESETS = ("this_year", "this_month", "last_30")
# The cards, in order: the township's yearly figures (domain.md). The first eight keep
# the order the office has known since the first version.
CARDS = ("receptions", "household_visits", "registered", "resolved", "resolution_rate",
         "satisfaction_rate", "overdue", "leader_resolved", "handed_down_resolved",
         "litigation_resolved", "cards", "beijing")
# Figures that are bad news when not zero: their number is red.
ALARMS = ("overdue", "beijing")
# A line of smaller figures under the cards: what the big ones are made of.
DETAILS = ("reception_visits", "walk_in_receptions", "home_visits", "due", "due_resolved",
           "callbacks", "callbacks_unreached", "satisfied", "open", "due_soon")
OVERDUE_REASONS = ("overdue_register", "overdue_notice", "overdue_handling", "overdue_answer")

REGISTERED_COLOUR, RESOLVED_COLOUR = ft.Colors.BLUE_600, ft.Colors.GREEN_600
BAR_W = 190                          # the longest bar of a chart, logical pixels
LABEL_W = {"zh": 92, "en": 170}      # English names wrap onto a second line
MAP_POINTS = 2000
LAND = "#EEF2EA"                     # the map's ground where there are no tiles yet
MAP_HINT = {"zh": "拖动平移，双击放大；灰绿色块为各网格住户所在范围",
            "en": "drag to move, double-click to zoom; green areas: where each grid's households are"}


def periods(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """The presets: this year and this month are whole (a running period is counted up
    to today by stats.figures, as the month's report is), the last 30 days end today."""
    return [("this_year", today.replace(month=1, day=1), today.replace(month=12, day=31)),
            ("this_month", *stats.month_period(today.year, today.month)),
            ("last_30", today - dt.timedelta(days=29), today)]


def period_figures(conn, start: dt.date, end: dt.date, filters: dict, today: dt.date) -> dict:
    """What the screen shows for a period and its filters: stats.figures, nothing else."""
    return stats.figures(conn, start, end, filters.get("village"), filters.get("category"),
                         filters.get("channel"), today=today)


def label(ctx, key: str) -> str:
    figure = stats.BY_KEY[key]
    return figure.zh if ctx.lang == "zh" else figure.en


def shown(value) -> str:
    """A figure as the screen writes it: a count, a percentage, or "—" for a rate with
    nothing to count."""
    return format_rate(value) if isinstance(value, float) or value is None else str(value)


def card(title: str, value, alarm: bool = False) -> ft.Control:
    colour = ft.Colors.RED_700 if alarm and value else None
    return ft.Container(ft.Column([ft.Text(title, color=ft.Colors.GREY_700, size=13, max_lines=2),
                                   ft.Text(shown(value), size=26, weight=ft.FontWeight.BOLD, color=colour)],
                                  spacing=2, alignment=ft.MainAxisAlignment.SPACE_BETWEEN),
                        width=156, height=100, padding=12, border_radius=8, bgcolor=ft.Colors.BLUE_GREY_50)


def details(ctx, f: dict) -> ft.Control:
    """The smaller figures, and what the overdue matters have passed."""
    parts = [f"{label(ctx, k)} {shown(f.get(k))}" for k in DETAILS]
    reasons = [f"{_short(ctx, k)} {f.get(k, 0)}" for k in OVERDUE_REASONS]
    return ft.Column([
        ft.Text(" · ".join(parts), size=12, color=ft.Colors.GREY_800),
        ft.Text(ctx.labelled(f"{label(ctx, 'overdue')} {f.get('overdue', 0)}",
                             (" · " if ctx.lang == "zh" else "; ").join(reasons)), size=12, color=ft.Colors.GREY_800)],
        spacing=2)


def _short(ctx, key: str) -> str:
    """An overdue reason without its "of which" prefix: 登记转送超期, register."""
    return label(ctx, key).removeprefix("其中：").removeprefix("Overdue: ")


def legend(ctx) -> ft.Control:
    return ft.Row([ft.Container(width=10, height=10, bgcolor=REGISTERED_COLOUR),
                   ft.Text(label(ctx, "registered"), size=11),
                   ft.Container(width=10, height=10, bgcolor=RESOLVED_COLOUR),
                   ft.Text(label(ctx, "resolved"), size=11)], spacing=4)


def bars(ctx, title: str, rows: list[dict], table=None) -> ft.Control:
    """Registered (blue) and resolved (green) per key, as horizontal bars: the key's
    name on the left, whole (wrapped when long), each bar with its number."""
    top = max([1] + [max(r["registered"], r["resolved"]) for r in rows])
    width = LABEL_W.get(ctx.lang, LABEL_W["en"])

    def bar(n: int, colour) -> ft.Control:
        length = round(BAR_W * n / top)
        return ft.Row([ft.Container(width=max(length, 2 if n else 0), height=9, bgcolor=colour, border_radius=2),
                       ft.Text(str(n), size=11, color=ft.Colors.GREY_800)], spacing=4)

    lines = [ft.Row([ft.Text(ctx.code(table, r["key"]) if table else r["label"], size=12, width=width),
                     ft.Column([bar(r["registered"], REGISTERED_COLOUR), bar(r["resolved"], RESOLVED_COLOUR)],
                               spacing=2)],
                    spacing=8, vertical_alignment=ft.CrossAxisAlignment.CENTER) for r in rows]
    return ft.Container(ft.Column([ft.Text(title, weight=ft.FontWeight.BOLD), legend(ctx),
                                   *(lines or [ft.Text("—", color=ft.Colors.GREY_700)])], spacing=6),
                        width=width + BAR_W + 48)


def period_heading(ctx, start: dt.date, end: dt.date, counted_to: str) -> str:
    """The period the figures cover, and the day they are counted to when it ends sooner."""
    span = f"{start.isoformat()} — {end.isoformat()}"
    if counted_to != end.isoformat():
        span += ctx.aside(f"{label(ctx, 'counted_to')} {counted_to}")
    return span


def dashboard_panel(ctx) -> ft.Control:
    today = today_cst()
    choices = periods(today)
    state = {"p": 0, "village": None, "category": None, "channel": None}
    body = ft.Column(spacing=12)
    map_part = ft.Column(spacing=8)
    villages = sorted({g["village"] for g in ctx.ws.grid_list()})

    def fill() -> None:
        _, start, end = choices[state["p"]]
        with ctx.store.lock:
            f = period_figures(ctx.store.conn, start, end, state, today)
            areas = grid_areas(ctx.store.conn)
        body.controls = [
            ft.Text(period_heading(ctx, start, end, f["counted_to"]), color=ft.Colors.GREY_700),
            ft.Row([card(label(ctx, key), f.get(key), key in ALARMS) for key in CARDS], wrap=True,
                   spacing=10, run_spacing=10),
            details(ctx, f),
            ft.Row([bars(ctx, ctx.t("by_village"), f.get("by_village", [])),
                    bars(ctx, ctx.t("by_category"), f.get("by_category", []), codes.CATEGORIES),
                    bars(ctx, ctx.t("by_channel"), f.get("by_channel", []), codes.CHANNELS)],
                   wrap=True, spacing=32, run_spacing=20, vertical_alignment=ft.CrossAxisAlignment.START),
            ft.Row([satisfaction_table(ctx.t("sat_by_owner"), f.get("satisfaction_by_owner", [])),
                    satisfaction_table(ctx.t("sat_by_department"), f.get("satisfaction_by_department", []))],
                   wrap=True, spacing=24, vertical_alignment=ft.CrossAxisAlignment.START),
        ]
        late = late_line(ctx, f.get("late_entries"))
        if late is not None:
            body.controls.insert(1, late)
        recovered = recovered_line(ctx, ctx.store.recovered())
        if recovered is not None:
            body.controls.insert(1, recovered)
        # The map is an item of its own: in the accessibility tree its gestures would
        # otherwise turn the whole panel of figures above into one "button".
        map_part.controls = [
            ft.Row([ft.Text(ctx.t("open_map"), weight=ft.FontWeight.BOLD), risk_legend(ctx),
                    ft.Text(MAP_HINT[ctx.lang], size=11, color=ft.Colors.GREY_700)], spacing=16, wrap=True),
            open_map(f.get("open_points", []), areas, ctx),
        ]

    def pick(i):
        def handler(e):
            state["p"] = i
            show_presets()
            fill()
            ctx.page.update()
        return handler

    def filt(key):
        def handler(e):
            state[key] = e.control.value or None
            fill()
            ctx.page.update()
        return handler

    # expand: the chips and the typed period wrap within the window (at 800 px the 统计
    # button was off it)
    period_chips = ft.Row(wrap=True, expand=True)

    def show_presets() -> None:
        """The presets as buttons, the chosen one filled and ticked. (Not Chips: a Chip
        laid out before the CJK font has arrived keeps its too-narrow width after.)"""
        period_chips.controls[:len(PRESETS)] = [
            ft.FilledTonalButton(ctx.t(k), icon=ft.Icons.CHECK, on_click=pick(i)) if i == state["p"]
            else ft.OutlinedButton(ctx.t(k), on_click=pick(i)) for i, (k, _, _) in enumerate(choices[:len(PRESETS)])]
    show_presets()
    start_f = ft.TextField(label=ctx.t("period_start"), width=180, dense=True, error_max_lines=ERROR_LINES)
    end_f = ft.TextField(label=ctx.t("period_end"), width=180, dense=True, error_max_lines=ERROR_LINES)

    def custom(e):
        """A period typed: each date said wrong at its own field; a day outside the years
        the store holds (2000-2100) is refused: 9999-12-31 took the whole app down."""
        got = {}
        for name, f in (("start", start_f), ("end", end_f)):
            f.error = None
            try:
                got[name] = dt.date.fromisoformat((f.value or "").strip())
            except ValueError:
                f.error = ctx.t("date_hint")
                continue
            if not FIRST_DAY <= got[name] <= LAST_DAY:
                f.error = ctx.t("date_range_hint", first=FIRST_DAY.year, last=LAST_DAY.year)
        if not start_f.error and got["start"] > today_cst():
            # counted to today, a period not begun held today's overdue matters
            start_f.error = ctx.t("start_not_begun")
        if not start_f.error and not end_f.error and got["end"] < got["start"]:
            end_f.error = ctx.t("end_before_start")
        if start_f.error or end_f.error:
            ctx.page.update()
            return
        start, end = got["start"], got["end"]
        choices.append(("custom", start, end))
        state["p"] = len(choices) - 1
        show_presets()
        fill()
        ctx.page.update()
    period_chips.controls.extend([start_f, end_f, ft.OutlinedButton(ctx.t("apply"), on_click=custom)])
    any_opt = [ft.DropdownOption(key="", text=ctx.t("filter_all"))]
    filters = ft.Row([
        named(ft.Dropdown(label=ctx.t("village"), width=160, value="", on_select=filt("village"),
                          options=any_opt + [ft.DropdownOption(key=v, text=v) for v in villages])),
        named(ft.Dropdown(label=ctx.t("category"), width=180, value="", on_select=filt("category"),
                          options=any_opt + [ft.DropdownOption(key=k, text=r[ctx.lang]) for k, r in codes.CATEGORIES.items()])),
        named(ft.Dropdown(label=ctx.t("channel"), width=180, value="", on_select=filt("channel"),
                          options=any_opt + [ft.DropdownOption(key=k, text=r[ctx.lang]) for k, r in codes.CHANNELS.items()])),
    ], wrap=True)
    fill()
    return ft.ListView([ft.Row([ft.Text(ctx.t("period"), weight=ft.FontWeight.BOLD), period_chips]), filters, body,
                        map_part],
                       expand=True, spacing=10, padding=ft.Padding.only(right=16, bottom=24))


def late_line(ctx, late: dict | None) -> ft.Control | None:
    """For a period that has ended, what of it was entered after it ended (补录, counted
    in it all the same: late_entries.py), as the month's report says it; 无 when
    nothing was. None for a period still running."""
    if late is None:
        return None
    return ft.Text(late_entries.note(late, ctx.lang), size=13,
                   color=ft.Colors.ORANGE_900 if any(late.values()) else ft.Colors.GREY_700)


def recovered_line(ctx, rec: dict) -> ft.Control | None:
    """After a restore from the backup (backup.py), how many changes the phones brought
    back that the restored store lacked: the office knows nothing was lost, and how much
    had been missing. None when the store was never restored or nothing came back."""
    if not rec.get("total"):
        return None
    n, total = rec.get("since_restore", 0), rec["total"]
    text = (f"数据恢复后，手机补交了 {n} 条备份中缺少的记录（累计 {total} 条），均已入库。" if ctx.lang == "zh" else
            f"After the restore from the backup, phones brought back {n} changes the backup lacked "
            f"({total} in all); every one is in the ledger.")
    return ft.Container(ft.Text(text, size=13, color=ft.Colors.BLUE_900), bgcolor=ft.Colors.BLUE_50,
                        padding=8, border_radius=6)


def satisfaction_table(title: str, rows: list[dict]) -> ft.Control:
    lines = [ft.Row([ft.Text(r["label"], width=140), ft.Text(str(r["callbacks"]), width=50),
                     ft.Text(format_rate(r["satisfaction_rate"]), width=70)]) for r in rows]
    return ft.Column([ft.Text(title, weight=ft.FontWeight.BOLD), *(lines or [ft.Text("—")])], spacing=2)


# --- the map ---------------------------------------------------------------------------
def hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of (lat, lon) points, counter-clockwise (Andrew's monotone chain);
    fewer than three distinct points give what there is."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def grid_areas(conn) -> list[dict]:
    """Each grid as the map draws it until the township's tiles are imported: the
    outline of its households' positions (their convex hull) and its village. A grid
    whose households have no positions is drawn by its centre alone."""
    grids = {gid: {"id": gid, "name": name, "village": village, "centre": (lat, lon) if lat is not None else None,
                   "points": []}
             for gid, name, village, lat, lon in conn.execute("SELECT id, name, village, lat, lon FROM grids")}
    for gid, lat, lon in conn.execute(
            "SELECT grid_id, lat, lon FROM households WHERE lat IS NOT NULL AND lon IS NOT NULL"):
        if gid in grids:
            grids[gid]["points"].append((lat, lon))
    out = []
    for g in grids.values():
        outline = hull(g["points"])
        if len(outline) >= 3 or g["centre"] is not None:
            out.append({"id": g["id"], "name": g["name"], "village": g["village"],
                        "outline": outline if len(outline) >= 3 else [], "centre": g["centre"]})
    return out


def village_labels(areas: list[dict]) -> dict[str, tuple[float, float]]:
    """Where each village's name is written: under the southern edge of its grids'
    outlines (or centres), in the middle, so the markers inside do not hide it."""
    spots: dict[str, list] = {}
    for a in areas:
        spots.setdefault(a["village"], []).extend(a["outline"] or [a["centre"]])
    return {v: (min(p[0] for p in ps), sum(p[1] for p in ps) / len(ps)) for v, ps in spots.items() if ps}


def view_points(points: list[dict], areas: list[dict]) -> list[tuple[float, float]]:
    """What the first view must show: every marker, and the grids' outlines."""
    out = [(p["lat"], p["lon"]) for p in points]
    for a in areas:
        out.extend(a["outline"] or [a["centre"]])
    return out


def risk_legend(ctx) -> ft.Control:
    items = []
    for risk, colour in RISK_COLOURS.items():
        items += [ft.Container(width=10, height=10, border_radius=5, bgcolor=colour),
                  ft.Text(ctx.code(codes.RISK_LEVELS, risk), size=11)]
    return ft.Row(items, spacing=4)


# No zooming by the mouse wheel (the wheel scrolls the page), and no rotating.
MAP_GESTURES = (fm.InteractionFlag.DRAG | fm.InteractionFlag.FLING_ANIMATION | fm.InteractionFlag.PINCH_MOVE
                | fm.InteractionFlag.PINCH_ZOOM | fm.InteractionFlag.DOUBLE_TAP_ZOOM
                | fm.InteractionFlag.DOUBLE_TAP_DRAG_ZOOM)


def base_map(ctx) -> dict | None:
    """The township's base map for this tab (`gridbook tiles import`), or None: its tile
    URLs carry the tab's key (sync/server/tiles.py), its markers are shifted into the
    tiles' coordinate system (sync/gcj02.py)."""
    from sync.server import tiles
    from sync.tiles import origin_of
    session = getattr(ctx, "session", None)
    if not session:
        return None
    info = tiles.office_map(ctx.store, ctx.store.path, session[1])
    if info is None:
        return None
    info["url_template"] = origin_of(getattr(ctx.page, "url", None)) + info["url_template"]
    return info


def tile_layer(info: dict) -> fm.TileLayer:
    from ..screens.map_view import bounds_of
    return fm.TileLayer(url_template=info["url_template"], additional_options=info["options"],
                        min_native_zoom=info["min_zoom"], max_native_zoom=info["max_zoom"],
                        tile_bounds=bounds_of(info["bounds"]),
                        user_agent_package_name="org.gridbook.office",
                        display_mode=fm.InstantaneousTileDisplay(),
                        evict_error_tile_strategy=fm.TileLayerEvictErrorTileStrategy.DISPOSE)


def open_map(points: list[dict], areas: list[dict], ctx) -> ft.Control:
    """Open matters coloured by risk over the grids' outlines and the villages' names,
    the first view fitted to all of them, on the township's base map once imported.
    Dragging moves it and a double click zooms; the mouse wheel scrolls the page, as
    everywhere else on it."""
    from sync.gcj02 import for_map

    from .matter import open_matter
    pts = [p for p in points if placed(p)][:MAP_POINTS]
    base = base_map(ctx)
    crs = base["crs"] if base else "wgs84"

    def ll(lat, lon):
        return fm.MapLatitudeLongitude(*for_map(lat, lon, crs))
    polygons = [fm.PolygonMarker(coordinates=[ll(lat, lon) for lat, lon in a["outline"]],
                                 color=ft.Colors.with_opacity(0.10, ft.Colors.GREEN_800),
                                 border_color=ft.Colors.with_opacity(0.55, ft.Colors.GREEN_800),
                                 border_stroke_width=1.2)
                for a in areas if a["outline"]]
    names = [fm.Marker(coordinates=ll(*spot), width=120, height=34, alignment=ft.Alignment.BOTTOM_CENTER,
                       content=ft.Container(ft.Text(village, size=13, weight=ft.FontWeight.BOLD,
                                                    color=ft.Colors.GREEN_900),
                                            padding=ft.Padding.symmetric(horizontal=6, vertical=1),
                                            margin=ft.Margin.only(top=10), border_radius=4,
                                            bgcolor=ft.Colors.with_opacity(0.75, ft.Colors.WHITE)))
             for village, spot in village_labels(areas).items()]
    markers = [fm.Marker(coordinates=ll(p["lat"], p["lon"]), width=18, height=18,
                         content=ft.Container(width=16, height=16, border_radius=8, bgcolor=risk_colour(p.get("risk")),
                                              border=ft.Border.all(1.5, ft.Colors.WHITE),
                                              on_click=lambda e, cid=p["id"]: open_matter(ctx, cid)))
               for p in pts]
    seen = view_points(pts, areas)
    fit = None
    if seen:
        # room all round, and more below for the villages' names
        fit = fm.CameraFit(coordinates=[ll(lat, lon) for lat, lon in seen],
                           padding=ft.Padding.only(left=40, top=40, right=40, bottom=60), max_zoom=16)
    the_map = fm.Map(
        initial_center=ll(*seen[0]) if seen else ll(29.07, 119.65), initial_zoom=13, initial_camera_fit=fit,
        bgcolor=LAND, min_zoom=9, max_zoom=18,
        interaction_configuration=fm.InteractionConfiguration(
            flags=MAP_GESTURES, keyboard_configuration=fm.KeyboardConfiguration(autofocus=False)),
        layers=[*([tile_layer(base)] if base else []), fm.PolygonLayer(polygons=polygons),
                fm.MarkerLayer(markers=markers), fm.MarkerLayer(markers=names)])
    return ft.Container(the_map, height=380, border_radius=8, clip_behavior=ft.ClipBehavior.HARD_EDGE,
                        border=ft.Border.all(1, ft.Colors.BLUE_GREY_100))
