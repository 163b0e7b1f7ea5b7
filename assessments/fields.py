"""Form fields shared by forms of several pages."""

from django import forms
from django.forms.models import ModelChoiceIterator


class _ReadOnce(ModelChoiceIterator):
    """A select's options read once per form. Django's iterator reads its queryset each time the
    options are iterated: twice for a rendered select (once to ask whether its first option is
    blank), through a server-side cursor each time on PostgreSQL (issue 17)."""

    def rows(self) -> list:
        return [self.choice(obj) for obj in self.queryset]

    def _kept(self) -> list:
        kept = self.field.__dict__.get("_read_once")
        if kept is None or kept[0] is not self.queryset:  # a new queryset: read it again
            kept = (self.queryset, self.rows())
            self.field._read_once = kept
        return kept[1]

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self._kept()

    def __len__(self):
        return len(self._kept()) + (self.field.empty_label is not None)


class _RegionNames(_ReadOnce):
    """A region select's options read as plain values (RegionQuerySet.full_names), not as model
    instances with their parents: one query and no instance for the whole list (issue 17)."""

    def rows(self) -> list:
        return self.queryset.full_names()


class ChoiceOfModel(forms.ModelChoiceField):
    """A ModelChoiceField whose options are read once per form."""

    iterator = _ReadOnce


class RegionChoiceField(forms.ModelChoiceField):
    """Validates against its queryset as a ModelChoiceField does; lists regions by full name."""

    iterator = _RegionNames


class RegionMultipleChoiceField(forms.ModelMultipleChoiceField):
    iterator = _RegionNames
