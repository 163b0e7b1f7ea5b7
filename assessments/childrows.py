"""One parent's rows read by statements the ORM compiles once per process (issue 17, part 5).

Every page of one assessment reads it with its six tables of rows (`readmodel.with_content`).
`prefetch_related` builds and compiles each table's query again on every page (the filter on the
parents, the order, the columns): about 0.5 ms a table, more than the database takes to answer.

`with_rows(queryset, relations)` is that queryset, whose rows come with those relations loaded.
For a single parent, each relation is read by a statement compiled by the ORM once per process
and database (the same query `prefetch_related` would run for one parent), and its rows are made
as the ORM makes them (`Model.from_db`, each field's converters) and left where `prefetch_related`
leaves them: in the parent's prefetched rows, under the relation's queryset (so `.all()` gives
them without a query and `.filter()` still reads only the parent's rows), each with its parent
cached. For several parents, or a statement that does not have the expected shape, it is
`prefetch_related` itself.

`ByPk` reads the parent itself, with what it refers to (`select_related`), by a statement
compiled once: a join of nine tables took 1 ms to compile on every page.
"""

import functools
import threading

from django.db import connections
from django.db.models import Prefetch, prefetch_related_objects
from django.db.models.expressions import Col
from django.db.models.query import ModelIterable, get_related_populators

# The parent's id in the statement as compiled: replaced by the real one when it runs. Not an id
# a row has; the statement is only kept if this is its one parameter.
_PLACEHOLDER_ID = -918_273_645


class _CompiledOnce:
    """What `_compile(using)` gives, worked out once per database alias and kept (None: the query
    has not the shape the caller reads, and is left to the ORM)."""

    def __init__(self):
        self._statements = {}
        self._lock = threading.Lock()

    def statement(self, using: str):
        with self._lock:
            if using not in self._statements:
                self._statements[using] = self._compile(using)
            return self._statements[using]

    def _compile(self, using):
        raise NotImplementedError


class Relation(_CompiledOnce):
    """A reverse foreign key of `parent_model` (`name`, e.g. "indicators") read in `order`."""

    def __init__(self, parent_model, name: str, order: tuple[str, ...]):
        super().__init__()
        self.parent_model = parent_model
        self.name = name
        self.order = order

    @functools.cached_property
    def field(self):
        """The child's foreign key (looked up once the models are loaded)."""
        return self.parent_model._meta.get_field(self.name).field

    @property
    def model(self):
        return self.field.model

    def prefetch(self) -> Prefetch:
        return Prefetch(self.name, queryset=self.model._default_manager.order_by(*self.order))

    def _compile(self, using):
        """(sql, its query, the selected columns) for one parent, or None where the compiled query is
        not a plain select of the model's columns with the parent's id as its one parameter."""
        queryset = self.model._default_manager.filter(**{self.field.attname: _PLACEHOLDER_ID}).order_by(*self.order)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        columns = [selected[0] for selected in compiler.select]
        plain = (
            list(params) == [_PLACEHOLDER_ID]
            and compiler.klass_info is not None and compiler.klass_info["model"] is self.model
            and not compiler.annotation_col_map
            and all(type(c) is Col and c.target.model is self.model for c in columns)
        )
        return (sql, queryset.query, columns) if plain else None

    def attach(self, parent) -> None:
        """Read the parent's rows and leave them as `prefetch_related` leaves them."""
        using = parent._state.db
        found = self.statement(using)
        if found is None:
            prefetch_related_objects([parent], self.prefetch())
            return
        sql, query, columns = found
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, [parent.pk])
            rows = cursor.fetchall()
        compiler = query.get_compiler(using)
        converters = compiler.get_converters(columns)
        if converters:
            rows = compiler.apply_converters(rows, converters)
        names = [c.target.attname for c in columns]
        make, field = self.model.from_db, self.field
        children = []
        for row in rows:
            child = make(using, names, row)
            field.set_cached_value(child, parent)
            children.append(child)
        manager = getattr(parent, self.name)
        related = manager._apply_rel_filters(self.model._default_manager.order_by(*self.order))
        related._result_cache = children
        related._prefetch_done = True
        if not hasattr(parent, "_prefetched_objects_cache"):
            parent._prefetched_objects_cache = {}
        parent._prefetched_objects_cache[field.remote_field.cache_name] = related


class ByPk(_CompiledOnce):
    """`make().get(pk=…)` (None where there is no such row), for a queryset whose shape never
    changes (its `select_related` above all, the costliest part to compile): its statement is
    compiled by the ORM once per process and database and its instances made as the ORM's own
    iteration makes them (`from_db`, the fields' converters, the related instances' populators).
    A statement of another shape than a select by the primary key is left to the ORM."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def _compile(self, using):
        queryset = self.make().filter(pk=_PLACEHOLDER_ID)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        info = compiler.klass_info
        plain = (list(params) == [_PLACEHOLDER_ID] and info is not None and not compiler.annotation_col_map
                 and compiler.col_count == len(compiler.select) and queryset._iterable_class is ModelIterable)
        if not plain:
            return None
        fields = info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        names = [selected[0].target.attname for selected in compiler.select[start:end]]
        populators = get_related_populators(info, compiler.select, using)
        return sql, queryset.query, [selected[0] for selected in compiler.select], info["model"], start, end, names, populators

    def get(self, pk, using: str = "default"):
        found = self.statement(using)
        if found is None:
            return self.make().using(using).filter(pk=pk).first()
        sql, query, columns, model, start, end, names, populators = found
        key = model._meta.pk
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, [key.get_db_prep_value(key.to_python(pk), connection)])
            rows = cursor.fetchall()
        if not rows:
            return None
        compiler = query.get_compiler(using)
        converters = compiler.get_converters(columns)
        row = next(iter(compiler.apply_converters(rows, converters))) if converters else rows[0]
        obj = model.from_db(using, names, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        return obj


def with_rows(queryset, relations: tuple[Relation, ...]):
    """`queryset`, whose model instances come with `relations` loaded (see the module's note) when
    it is evaluated (iterated, `get`, `first`…); `iterator()`, which keeps no results, loads none."""
    clone = queryset._chain()
    clone.__class__ = _loading(type(queryset), relations)
    return clone


@functools.cache
def _loading(queryset_class, relations):
    def _fetch_all(self):
        fresh = self._result_cache is None
        queryset_class._fetch_all(self)
        if not (fresh and self._iterable_class is ModelIterable and self._result_cache):
            return
        parents = self._result_cache
        if len(parents) == 1:
            for relation in relations:
                relation.attach(parents[0])
        else:
            prefetch_related_objects(parents, *(relation.prefetch() for relation in relations))

    return type(f"WithRows{queryset_class.__name__}", (queryset_class,), {"_fetch_all": _fetch_all})
