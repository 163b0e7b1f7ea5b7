"""The unbound rows of a model formset without a form per row (issue 17, part 5; ADR 0027).

After a save that changed many indicator rows, the edit page renders each of them again: Django
builds a form per row (its fields deep-copied, its initial values worked out, each field named for
screen readers) and then a bound field per cell. Most of that is the same for every row: only the
names, the ids, the accessible names and the values differ.

`RowForms` builds a real form for the first row of each *shape* (what a form's `__init__` derives
from its row besides values: `row_shape` on the form class) and renders the other rows of that
shape through the same fields and widgets, giving each cell its own name, id, accessible name and
value exactly as the form's bound field would. A row whose shape is None (the form decides, e.g.
an approved row whose fields are locked) gets its real form. `test_page_cache` compares both ways
for every built-in 表样."""

import html
import re
import threading
from collections import OrderedDict
from decimal import Decimal

from django.forms.models import model_to_dict
from django.forms.widgets import Input, Widget
from django.utils.safestring import SafeString

from portal.renderers import FastRenderer

from .formlabels import field_label, row_name


class RowForms:
    """The forms of `formset`'s rows for rendering, real or light (`LightRow`), row by row.

    `kit`: a key naming everything the formset's row forms are made of besides their rows (the
    表样 version and the code that builds them, e.g. a digest of the version's stored values). With
    it, the prototypes of stored rows written as light rows only (`light_first`) are kept in the
    process under it (`Kits`), with what is worked out from them (their cells' and rows' stencils),
    and the next page of that 表样 starts from them."""

    def __init__(self, formset, *, kit=None):
        self.formset = formset
        self.initial_count = formset.initial_form_count()
        # A model formset's stored rows, read once (not per row); a plain formset's rows are its
        # initial values.
        self.model_rows = hasattr(formset, "get_queryset")
        self.rows = list(formset.get_queryset()) if self.initial_count and self.model_rows else []
        self.shape = getattr(formset.form, "row_shape", None)
        self.noun = getattr(formset, "row_noun", "行")
        self.prototypes = {}
        self.kit = kit

    def form(self, i, *, light_first=False):
        """Row i's form: the first row of a shape gets the real form its later rows are light
        copies of; with `light_first`, that row is a light copy too (the same HTML, written as
        theirs, e.g. from a stencil: ADR 0031)."""
        formset = self.formset
        stored = i < self.initial_count
        instance = self.rows[i] if stored and self.model_rows else None
        shape = self.shape(instance) if self.shape is not None else ()
        if shape is None:
            return self.real(i)
        key = (stored, shape)
        prototype = self.prototypes.get(key)
        if prototype is None:
            if not light_first:
                self.prototypes[key] = prototype = self.real(i)
                return prototype
            self.prototypes[key] = prototype = self._prototype(i, key)
        initial = formset.initial[i] if stored and not self.model_rows else None
        return LightRow(prototype, formset.add_prefix(i), i, instance, self.noun, stored=stored, initial=initial)

    def real(self, i):
        return self.formset._construct_form(i, **self.formset.get_form_kwargs(i))

    def _prototype(self, i, key):
        """The prototype of row i's shape, never rendered itself: kept in the process under the kit
        for a stored row (its light rows read of it only what every row of the shape shares: its
        fields, widgets and labels; their own instance and values are theirs). An empty row's is
        not: a light empty row takes its instance and initial values from its prototype."""
        stored = key[0]
        if self.kit is None or not stored:
            return self.real(i)
        formset = self.formset
        full = (self.kit, formset.form, formset.prefix, formset.can_order, formset.can_delete, key)
        return KITS.get(full, lambda: self.real(i))


class Kits:
    """Prototypes kept in the process (`RowForms`' kit), the most recently used `size` of them. A
    prototype is immutable once made but for what is added to it (cells and stencils, the same
    whoever adds them), so threads share it; making one is left outside the lock."""

    def __init__(self, size):
        self.size = size
        self.kept = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, make):
        with self.lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
                return found
        made = make()
        with self.lock:
            self.kept[key] = made
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return made

    def clear(self):
        with self.lock:
            self.kept.clear()


# A 表样 has a prototype per 一级 of its rows; a few dozen 表样 versions are in use in a season. A
# prototype keeps the form it is and, through it, the page's assessment with its rows (some
# 200 KiB for 40 rows; the prototypes made on one page share it): 64 of them, a few MiB at most.
KITS = Kits(64)


class LightRow:
    """What a row template reads of an unbound row form: its prefix, instance, `locked`, initial
    values, and each field by name (its widget, as `BoundField.as_widget` renders it, without
    errors, or `as_hidden`). A row of a plain formset (no model) has its `initial` values."""

    errors = ()

    def __init__(self, prototype, prefix, index, instance, noun, *, stored=None, initial=None):
        self.prototype = prototype
        self.prefix = prefix
        self.index = index
        self.instance = instance if instance is not None else getattr(prototype, "instance", None)
        self.stored = stored if stored is not None else instance is not None and instance.pk is not None
        self.locked = False
        self.row = row_name(prototype, index, noun)
        self.escaped_row = html.escape(self.row)
        self.escaped_prefix = html.escape(prefix)
        if initial is not None:  # a plain formset's row
            self.initial = initial
        elif instance is None:  # an empty row: its initial values are the prototype's
            self.initial = prototype.initial
        else:
            meta = prototype._meta
            self.initial = model_to_dict(instance, meta.fields, meta.exclude)
            initial_of = getattr(prototype, "initial_of", None)
            if initial_of is not None:
                for name, value in initial_of(instance).items():
                    self.initial.setdefault(name, value)

    def __getitem__(self, name):
        return LightField(self, name)

    def cell(self, name, *, hidden=False):
        """The `Cell` of the field `name` for every row of this shape, worked out once per
        prototype: required, disabled and described-by are the same for every row of a shape.
        `hidden`: the field as `as_hidden` renders it (its field's hidden widget)."""
        cells = self.prototype.__dict__.setdefault("_light_cells", {})
        cell = cells.get((name, hidden))
        if cell is None:
            bound = self.prototype[name]
            widget = bound.field.hidden_widget() if hidden else bound.field.widget
            cells[(name, hidden)] = cell = Cell(name, bound.field, widget, bound.build_widget_attrs({}, widget),
                                                self.prototype)
        return cell

    def field_initial(self, name, field):
        """`Form.get_initial_for_field` for this row. The formset's own fields take their initial
        value from the row: the hidden id its primary key, 顺序 its position."""
        meta = getattr(self.prototype, "_meta", None)
        pk = getattr(self.instance, "pk", None)
        if meta is not None and name == meta.model._meta.pk.name and pk is not None and name not in self.initial:
            return pk
        if name == "ORDER":
            return self.index + 1 if self.stored else None
        value = self.initial.get(name, field.initial)
        return value() if callable(value) else value


class LightField:
    errors = ()

    def __init__(self, row, name):
        self.row = row
        self.name = name

    def __html__(self):
        return self._written(self.row.cell(self.name))

    def as_hidden(self):
        return SafeString(self._written(self.row.cell(self.name, hidden=True)))

    def _written(self, cell):
        row, name = self.row, self.name
        field = cell.field
        value = field.prepare_value(row.field_initial(name, field))
        written = cell.stencil(row, value)
        if written is not None:
            return written
        attrs = dict(cell.attrs)
        html_name = f"{row.prefix}-{name}"
        if cell.labelled:
            attrs["aria-label"] = f"{row.row} {cell.label}"
        if cell.auto_id is not None:
            attrs.setdefault("id", cell.auto_id % html_name)
        return cell.widget.render(name=html_name, value=value, attrs=attrs, renderer=row.prototype.renderer)

    def __str__(self):
        return SafeString(self.__html__())


# Stand-ins for what differs from row to row, rendered once through the widget and then replaced.
# A NUL is never in a name, an id, a label or a value Django escapes, nor in a widget's template.
NAME, ID, LABEL, VALUE = "\0name\0", "\0id\0", "\0label\0", "\0value\0"
SLOTS = {NAME: "{0}", ID: "{1}", LABEL: "{2}", VALUE: "{3}"}
SLOT = re.compile("(" + "|".join(SLOTS) + ")")
# Values a widget's HTML may be kept for (a select's choice, a checkbox): hashable and plain.
PLAIN = (type(None), bool, int, str, Decimal)


class Cell:
    """One field of the rows of a shape: its widget, the attributes every row shares, and its HTML
    as stencils. A stencil is what the widget renders with stand-ins for the row's name, id,
    accessible name and (for a plain input or text box) value, so the next rows are written by
    putting theirs in, escaped as the widget's template escapes them (`html.escape`, character by
    character: the parts of a name or a label are escaped once, not in every cell).

    - A plain text input or text box (Django's own `Input.get_context` and `format_value`, with
      the templates `FastRenderer` has checked): one stencil with the value and one without.
    - Any other widget (a select, a checkbox): one stencil per value, for plain values.
    - A stencil whose stand-ins do not each come out once, unchanged, is not used: that widget is
      rendered as before, row by row."""

    def __init__(self, name, field, widget, attrs, prototype):
        self.field, self.widget, self.attrs = field, widget, attrs
        self.renderer = prototype.renderer
        self.label = field_label(name, field)
        self.labelled = "aria-label" in widget.attrs
        auto_id = prototype.auto_id
        if auto_id and "id" not in widget.attrs and "id" not in attrs:
            self.auto_id = auto_id if "%s" in str(auto_id) else "%s"
        else:
            self.auto_id = None
        self.value_slot = _has_value_slot(widget, self.renderer)
        self.stencils = {}
        self.escaped_name = html.escape(name)
        self.escaped_label = html.escape(self.label)
        self.escaped_auto_id = html.escape(str(self.auto_id or ""))

    def stencil(self, row, value):
        """The widget's HTML for this row, or None where it must be rendered."""
        if self.value_slot:
            shown = self.widget.format_value(value)
            if shown is None:
                key, fill = None, ""
            elif type(shown) is str and shown:
                key, fill = VALUE, html.escape(shown)
            else:
                return None
        elif type(value) in PLAIN:
            # By its repr, not its value: Decimal("5.0") == Decimal("5.00"), but they print apart.
            key, fill = (type(value), repr(value)), ""
        else:
            return None
        written = self.stencils.get(key)
        if written is None:
            written = self.stencils[key] = self._stencil(None if key is None else VALUE if key is VALUE else value)
        if not written:
            return None
        name = f"{row.escaped_prefix}-{self.escaped_name}"
        return SafeString(written.format(name, self.escaped_auto_id % name if self.auto_id is not None else "",
                                         f"{row.escaped_row} {self.escaped_label}" if self.labelled else "", fill))

    def _stencil(self, value) -> str:
        """The widget's HTML as a format string ({0} name, {1} id, {2} accessible name, {3} value),
        or "" where it cannot be one."""
        attrs = dict(self.attrs)
        if self.labelled:
            attrs["aria-label"] = LABEL
        if self.auto_id is not None:
            attrs["id"] = ID
        written = str(self.widget.render(name=NAME, value=value, attrs=attrs, renderer=self.renderer))
        expected = {NAME: 1, ID: int(self.auto_id is not None), LABEL: int(self.labelled), VALUE: int(value is VALUE)}
        if any(written.count(slot) != n for slot, n in expected.items()):
            return ""  # not a stencil: rendered row by row
        return "".join(SLOTS.get(piece) or piece.replace("{", "{{").replace("}", "}}") for piece in SLOT.split(written))


def _has_value_slot(widget, renderer) -> bool:
    """Whether the widget's HTML depends on its value only through `format_value`'s text, shown
    escaped where the value goes: Django's own input and text box, through templates checked by
    `FastRenderer` (an overridden template or method is not assumed to)."""
    cls = type(widget)
    return (
        isinstance(renderer, FastRenderer)
        and widget.template_name in renderer.fast
        and cls.render is Widget.render
        and cls.format_value is Widget.format_value
        and cls.get_context in (Widget.get_context, Input.get_context)
        and not getattr(widget, "allow_multiple_selected", False)
    )


# --- A light row written from a stencil (ADR 0031) -------------------------------------------------
# Stand-ins, each between NULs: the row's prefix, a field's widget (cell\x01name), and of its read
# model line the number, key, computed score's text, explanation and each problem's and warning's
# message (problem\x01i, warning\x01i).
_ROW_SLOT = re.compile("\0(prefix|number|key|suggested|explanation|(?:problem|warning)\x01[0-9]+|cell\x01[^\0]*)\0")


class RowStencils:
    """A row template that shows a light row through its fields and prefix and, of its read-model
    line, only what `_ProbeLine` stands in for: rendered once per shape of row and of line (whether
    the score differs from the rule's, how many problems and warnings it has) with stand-ins for all
    of these; the other rows of that shape are written by putting their own in, escaped as the
    template's `{{ }}` escapes them (`escape`: `portal.jinja2.escape_as_django`). `render(form,
    line)` renders the template.

    A template that reads anything else of the row or its line while the stencil is made (an
    approved row's instance, another value of the line) gives no stencil: its rows are rendered by
    the template, as before. So does a row that is not light (a real form: the first of its shape,
    an approved row, a bound form). The caller leaves to the template what the stand-ins cannot
    show (a row with a review note)."""

    def __init__(self, render, escape, *, name=None):
        self.render = render
        self.escape = escape
        self.name = name
        self.stencils = {}

    def html(self, form, line) -> SafeString | None:
        if not isinstance(form, LightRow):
            return None
        shape = None if line is None else (bool(line.result.differs), len(line.result.problems), len(line.result.warnings))
        # Named, the stencils are kept with the prototype (shared between pages when it is: `Kits`);
        # the caller names a rendering whose output depends on nothing else than the prototype's
        # 表样 and the stand-ins.
        if self.name is None:
            stencils, key = self.stencils, (id(form.prototype), shape)
        else:
            stencils, key = form.prototype.__dict__.setdefault("_row_stencils", {}), (self.name, shape)
        pieces = stencils.get(key)
        if pieces is None:
            pieces = stencils[key] = self._stencil(shape)
        if not pieces:
            return None
        values = {"prefix": form.prefix}
        if line is not None:
            result = line.result
            values.update(number=line.number, key=line.key, suggested=line.suggested_text, explanation=result.explanation)
            values.update((f"problem\x01{i}", p.message) for i, p in enumerate(result.problems))
            values.update((f"warning\x01{i}", p.message) for i, p in enumerate(result.warnings))
        escape = self.escape
        out = list(pieces)
        for j in range(1, len(out), 2):
            slot = out[j]
            out[j] = form[slot[5:]].__html__() if slot.startswith("cell\x01") else str(escape(values[slot]))
        return SafeString("".join(out))

    def _stencil(self, shape) -> list[str]:
        """[static, slot, static, slot, …, static], or [] where the template cannot have a stencil."""
        taint = []
        try:
            html = str(self.render(_ProbeRow(taint), None if shape is None else _ProbeLine(shape, taint)))
        except (AttributeError, KeyError, LookupError, TypeError, ValueError):
            return []
        pieces = _ROW_SLOT.split(html)
        if taint or any("\0" in static for static in pieces[::2]):
            return []
        return pieces


class _Probe:
    """Reading an attribute the stencil has no stand-in for taints it."""

    def __init__(self, taint):
        self._taint = taint

    def __getattr__(self, name):
        self._taint.append(name)
        raise AttributeError(name)


class _ProbeRow(_Probe):
    prefix = "\0prefix\0"
    locked = False

    def __getitem__(self, name):
        return _ProbeField(name)


class _ProbeField:
    errors = ()

    def __init__(self, name):
        self.slot = f"\0cell\x01{name}\0"

    def __html__(self):
        return self.slot

    __str__ = __html__


class _ProbeLine(_Probe):
    number, key, suggested_text = "\0number\0", "\0key\0", "\0suggested\0"

    def __init__(self, shape, taint):
        super().__init__(taint)
        self.result = _ProbeResult(shape, taint)


class _ProbeResult(_Probe):
    explanation = "\0explanation\0"

    def __init__(self, shape, taint):
        super().__init__(taint)
        self.differs, problems, warnings = shape
        self.problems = [_ProbeMessage(f"\0problem\x01{i}\0", taint) for i in range(problems)]
        self.warnings = [_ProbeMessage(f"\0warning\x01{i}\0", taint) for i in range(warnings)]


class _ProbeMessage(_Probe):
    def __init__(self, message, taint):
        super().__init__(taint)
        self.message = message
