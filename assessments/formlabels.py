"""Accessible names for the fields of table rows (issue 17, part 4).

A row of a formset sits under the table's column headings, which a screen reader does not tie to
the inputs: each visible field of a row form gets an aria-label "<row> <column>" ("第2条指标
三级指标", "财政拨款 全年执行数"). Formsets call `label_row` from `add_fields`, so every row form
is named, the empty form that scripts copy for a new row included."""

MANAGEMENT_LABELS = {"ORDER": "顺序", "DELETE": "删除"}


def row_name(form, index, noun: str) -> str:
    """The row's own label where the form has one (funding sources), else its number."""
    own = getattr(form, "row_label", "")
    if own:
        return own
    return f"第{index + 1}条{noun}" if index is not None else f"新增的{noun}"


def field_label(key: str, field) -> str:
    """A field's part of its accessible name: its column's label (顺序 and 删除 for a formset's own)."""
    return MANAGEMENT_LABELS.get(key) or str(field.label or key)


def label_row(form, index, noun: str, *, name: str | None = None) -> None:
    """aria-label every visible field of `form`: "<row name> <field label>"."""
    row = name or row_name(form, index, noun)
    for key, field in form.fields.items():
        if field.widget.is_hidden:
            continue
        field.widget.attrs["aria-label"] = f"{row} {field_label(key, field)}"


class LabelledRowsMixin:
    """A formset whose row fields carry accessible names; `row_noun` names one row. Every formset
    of the project has it."""

    row_noun = "行"

    def __getitem__(self, index):
        # In a Django template `formset.management_form` is first tried as formset["management_form"],
        # which built every row's form before failing (23 forms a 复核 page beside its light rows,
        # issue 17): a name is refused before any form is built, and the template reads the attribute.
        if isinstance(index, str):
            raise TypeError(f"A formset's rows are numbered, not named ({index!r}).")
        return super().__getitem__(index)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        label_row(form, index, self.row_noun)
