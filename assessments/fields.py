"""Form fields shared by forms of several pages."""

from django import forms
from django.forms.models import ModelChoiceIterator


class _RegionNames(ModelChoiceIterator):
    """A region select's options read as plain values (RegionQuerySet.full_names), not as model
    instances with their parents: one query and no instance for the whole list (issue 17)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.full_names()


class RegionChoiceField(forms.ModelChoiceField):
    """Validates against its queryset as a ModelChoiceField does; lists regions by full name."""

    iterator = _RegionNames


class RegionMultipleChoiceField(forms.ModelMultipleChoiceField):
    iterator = _RegionNames
