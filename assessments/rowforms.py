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

from django.forms.models import model_to_dict
from django.utils.safestring import SafeString

from .formlabels import field_label, row_name


class RowForms:
    """The forms of `formset`'s rows for rendering, real or light (`LightRow`), row by row."""

    def __init__(self, formset):
        self.formset = formset
        self.initial_count = formset.initial_form_count()
        self.rows = list(formset.get_queryset()) if self.initial_count else []  # read once, not per row
        self.shape = getattr(formset.form, "row_shape", None)
        self.noun = getattr(formset, "row_noun", "行")
        self.prototypes = {}

    def form(self, i):
        formset = self.formset
        stored = i < self.initial_count
        instance = self.rows[i] if stored else None
        shape = self.shape(instance) if self.shape is not None else ()
        if shape is None:
            return self.real(i)
        key = (stored, shape)
        prototype = self.prototypes.get(key)
        if prototype is None:
            self.prototypes[key] = prototype = self.real(i)
            return prototype
        return LightRow(prototype, formset.add_prefix(i), i, instance, self.noun)

    def real(self, i):
        return self.formset._construct_form(i, **self.formset.get_form_kwargs(i))


class LightRow:
    """What a row template reads of an unbound row form: its prefix, instance, `locked`, and each
    field by name (its widget, as `BoundField.as_widget` renders it, without errors)."""

    errors = ()

    def __init__(self, prototype, prefix, index, instance, noun):
        self.prototype = prototype
        self.prefix = prefix
        self.index = index
        self.instance = instance if instance is not None else prototype.instance
        self.locked = False
        self.row = row_name(prototype, index, noun)
        if instance is None:  # an empty row: its initial values are the prototype's
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

    def widget_of(self, name):
        """(field, widget, its attributes for an unbound row of this shape), worked out once per
        prototype: required, disabled and described-by are the same for every row of a shape."""
        cells = self.prototype.__dict__.setdefault("_light_cells", {})
        cell = cells.get(name)
        if cell is None:
            bound = self.prototype[name]
            widget = bound.field.widget
            cells[name] = cell = (bound.field, widget, bound.build_widget_attrs({}, widget))
        return cell

    def field_initial(self, name, field):
        """`Form.get_initial_for_field` for this row. The formset's own fields take their initial
        value from the row: the hidden id its primary key, 顺序 its position."""
        if name == self.prototype._meta.model._meta.pk.name and self.instance.pk is not None and name not in self.initial:
            return self.instance.pk
        if name == "ORDER":
            return self.index + 1 if self.instance.pk is not None else None
        value = self.initial.get(name, field.initial)
        return value() if callable(value) else value


class LightField:
    errors = ()

    def __init__(self, row, name):
        self.row = row
        self.name = name

    def __html__(self):
        row, name = self.row, self.name
        field, widget, attrs = row.widget_of(name)
        attrs = dict(attrs)
        if "aria-label" in widget.attrs:
            attrs["aria-label"] = f"{row.row} {field_label(name, field)}"
        html_name = f"{row.prefix}-{name}"
        auto_id = row.prototype.auto_id
        if auto_id and "id" not in widget.attrs:
            attrs.setdefault("id", auto_id % html_name if "%s" in str(auto_id) else html_name)
        value = field.prepare_value(row.field_initial(name, field))
        return widget.render(name=html_name, value=value, attrs=attrs, renderer=row.prototype.renderer)

    def __str__(self):
        return SafeString(self.__html__())
