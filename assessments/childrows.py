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

import copy
import datetime
import functools
import threading
import uuid

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import Count, IntegerField, Prefetch, Value, prefetch_related_objects
from django.db.models.expressions import Col
from django.db.models.query import ModelIterable, QuerySet, get_related_populators

# The parent's id in the statement as compiled: replaced by the real one when it runs. Not an id
# a row has; the statement is only kept if this is its one parameter.
_PLACEHOLDER_ID = -918_273_645


class _CompiledOnce:
    """What `_compile(using)` gives, worked out once per database alias and kept (None: the query
    has not the shape the caller reads, and is left to the ORM)."""

    def __init__(self):
        self._statements = {}
        self._lock = threading.Lock()
        self._converters = {}

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
        attach_all(parent, (self,))

    def _attach_rows(self, parent, rows) -> None:
        using = parent._state.db
        _, query, columns = self.statement(using)
        compiler = query.get_compiler(using)
        converters = _converters(self._converters, compiler, columns)
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
        return self._made(together(connections[using], [self._query(pk, using)])[0], using)

    def _query(self, pk, using: str) -> tuple[str, list]:
        sql, _, _, model, *_ = self.statement(using)
        key = model._meta.pk
        return sql, [key.get_db_prep_value(key.to_python(pk), connections[using])]

    def _made(self, rows, using: str):
        _, query, columns, model, start, end, names, populators = self.statement(using)
        if not rows:
            return None
        compiler = query.get_compiler(using)
        converters = _converters(self._converters, compiler, columns)
        row = next(iter(compiler.apply_converters(rows, converters))) if converters else rows[0]
        obj = model.from_db(using, names, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        return obj


def _converters(kept: dict, compiler, columns) -> list:
    """`compiler.get_converters(columns)` of a statement compiled once, worked out once per database
    connection (the fields' and the backend's converters of some 30 columns: 30–70 µs a statement)."""
    key = (compiler.using, id(compiler.connection))
    found = kept.get(key)
    if found is None:
        found = kept[key] = compiler.get_converters(columns)
    return found


def together(connection, statements: list[tuple[str, list]]) -> list[list[tuple]]:
    """The rows of each (sql, params), read through the connection's cursors as any statement is
    (counted, watched). On PostgreSQL, several are sent together and answered in one round trip
    (psycopg's pipeline mode): a page of one assessment reads it and its six tables of rows at once
    (issue 17: seven round trips were a tenth of the public page)."""
    if connection.vendor != "postgresql" or len(statements) < 2:
        found = []
        for sql, params in statements:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                found.append(cursor.fetchall())
        return found
    connection.ensure_connection()
    cursors = [connection.cursor() for _ in statements]
    try:
        with connection.wrap_database_errors, connection.connection.pipeline():
            for cursor, (sql, params) in zip(cursors, statements, strict=True):
                cursor.execute(sql, params)
            return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def attach_all(parent, relations: tuple[Relation, ...]) -> None:
    """Each of `relations` attached to `parent` (read already), their statements sent `together`."""
    using = parent._state.db
    statements = [relation.statement(using) for relation in relations]
    if None in statements:  # a table the compiled statement cannot read: prefetch_related reads it
        for relation, statement in zip(relations, statements, strict=True):
            if statement is None:
                prefetch_related_objects([parent], relation.prefetch())
        relations = tuple(r for r, s in zip(relations, statements, strict=True) if s is not None)
        statements = [s for s in statements if s is not None]
    found = together(connections[using], [(statement[0], [parent.pk]) for statement in statements])
    for relation, rows in zip(relations, found, strict=True):
        relation._attach_rows(parent, rows)


def read_with(by_pk: "ByPk", pk, relations: tuple[Relation, ...], using: str = "default"):
    """`by_pk.get(pk)` with each of `relations` attached (None where there is no such row), all
    read `together`: the relations' statements take the id as the parent's would be read."""
    found, statements = by_pk.statement(using), [relation.statement(using) for relation in relations]
    if found is None or None in statements:
        parent = by_pk.get(pk, using)
        if parent is not None:
            attach_all(parent, relations)
        return parent
    sql, params = by_pk._query(pk, using)
    rows = together(connections[using], [(sql, params), *((statement[0], params) for statement in statements)])
    parent = by_pk._made(rows[0], using)
    if parent is not None:
        for relation, found_rows in zip(relations, rows[1:], strict=True):
            relation._attach_rows(parent, found_rows)
    return parent


class Ids(tuple):
    """The kind of a `Statement` value that is several ids (`pk__in=…`): the statement is compiled
    once per number of ids (up to `Statement.MAX_IDS`; more are left to the ORM)."""


class Uuids(Ids):
    """Several UUIDs (`lineage__in=…`), as `Ids`: given as UUIDs or their text."""


# At most this many ids in one value (a page of 50 rows, say); more are left to the ORM.
MAX_IDS = 100
# How far apart the stand-ins of two values are: a value's ids, 10 apart, never meet the next value's.
_SPAN = 10 * (MAX_IDS + 2)


def _stand_in(kind, n: int, length: int, variant: int):
    """A value for the n-th parameter of the variant-th compilation: the two compilations' values
    differ everywhere, so a parameter that differs between them is a value's, one that does not a
    constant. Small positive ints (a lookup refuses values outside its field's range; 2-byte
    fields hold 32,767), `_SPAN` apart per value."""
    if kind is int:
        return 1000 + _SPAN * n + variant
    if kind is str:
        return f"\u2063statement value {n}/{variant}\u2063"
    if kind is Ids:
        return tuple(1000 + _SPAN * n + 10 * (i + 1) + variant for i in range(length))
    if kind is Uuids:
        return tuple(uuid.UUID(int=1000 + _SPAN * n + 10 * (i + 1) + variant) for i in range(length))
    if kind is datetime.date:
        return datetime.date(1901 + n, 1, variant)
    raise TypeError(f"A Statement's values are int, str, datetime.date, Ids or Uuids, not {kind!r}.")


def _keys(value) -> list:
    """The keys a stand-in may be found under among the parameters: a date as a date, or as the
    text the database's adapter makes of it (SQLite); a UUID as a UUID (PostgreSQL) or as its 32
    hex digits (SQLite)."""
    if isinstance(value, datetime.date):
        return [("date", value.isoformat()), ("str", value.isoformat())]
    if isinstance(value, uuid.UUID):
        return [("uuid", value.int), ("str", value.hex)]
    return [_key(value)]


def _as_given(param, kind):
    """How a value goes in where the ORM put this stand-in: as a typed int of the same class (the
    PostgreSQL driver's Int2…), a text, a date as a date or as its ISO text, a UUID as a UUID or as
    its hex digits."""
    if isinstance(param, datetime.date | uuid.UUID):
        return _same
    if kind is Uuids:
        return _hex
    return type(param)


def _same(value):
    return value


def _hex(value: uuid.UUID) -> str:
    return value.hex


def _value(kind, value):
    if kind is Uuids:
        return tuple(i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in value)
    if kind is Ids:
        return tuple(int(i) for i in value)
    if kind is datetime.date:
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise TypeError(f"A date expected, not {value!r}.")
        return value
    return kind(value)


def _key(value):
    """A parameter as compared with the stand-ins: an int whatever its class (PostgreSQL's driver
    types them: Int2, Int4…), a text as text, a date (not a time) as a date; anything else is not a
    stand-in."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return ("date", value.isoformat())
    if isinstance(value, uuid.UUID):
        return ("uuid", value.int)
    return None


class Statement:
    """`make(*values)`, a queryset whose shape does not depend on its values, evaluated as the ORM
    evaluates it (model instances with their `select_related`, annotations and `prefetch_related`;
    or `values()`/`values_list()` rows), from a statement the ORM compiled once per process,
    database and number of ids (issue 17, part 5: building and compiling the queries of a page
    took a fifth of its time, more than the database took to answer them).

    `kinds` declares each value: `int`, `str`, `datetime.date` (each must reach the statement as one
    parameter, unchanged: an equality or comparison, not `__contains`), `Ids` (several ids, `__in`) or
    `Uuids` (several UUIDs). `make` is called
    twice with two sets of stand-in values and compiled each time: the statement is used only if
    both are the same SQL, each stand-in is one of its parameters as given, and every other
    parameter is the same constant in both. Otherwise (a LIKE pattern made of a value, a value that
    does not reach the SQL, no ids, more than MAX_IDS) it is left to the ORM: `list(make(*values))`.
    `make` must not branch on its values in Python. What the settings put in a statement when it is
    compiled (a time zone's name, say) is kept: such queries are not for this.
    """

    MAX_IDS = MAX_IDS

    def __init__(self, make, *kinds):
        for n, kind in enumerate(kinds):
            _stand_in(kind, n, 0, 1)  # a kind it knows
        self.make = make
        self.kinds = kinds
        self._compiled = {}
        self._lock = threading.Lock()
        self._converters = {}

    def _compile_with(self, using, lengths, variant):
        values = [_stand_in(kind, n, length, variant) for n, (kind, length) in enumerate(zip(self.kinds, lengths, strict=True))]
        queryset = self.make(*values)
        if not isinstance(queryset, QuerySet):
            return None
        compiler = queryset.query.get_compiler(using)
        try:
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet):  # no ids (`__in=()`): the ORM answers without a query
            return None
        # Where each stand-in is: (value's position, item's position among its ids).
        where = {key: (n, i) for n, value in enumerate(values)
                 for i, item in enumerate(value if isinstance(value, tuple) else (value,)) for key in _keys(item)}
        return queryset, compiler, sql, list(params), where

    def _compile(self, using, lengths):
        """Compiled twice with different stand-ins: the same statement, whose parameters are the
        same constants but where a value went, there each time the value as given."""
        first, second = (self._compile_with(using, lengths, variant) for variant in (1, 2))
        if first is None or second is None or first[2] != second[2] or len(first[3]) != len(second[3]):
            return None
        queryset, compiler, sql, params, where = first
        slots, found = [], set()
        for param, other in zip(params, second[3], strict=True):
            if param == other and type(param) is type(other):
                slots.append((None, param, None))
                continue
            slot = where.get(_key(param))
            if slot is None or second[4].get(_key(other)) != slot or type(param) is not type(other):
                return None  # a value changed on its way in (a LIKE pattern, say): not a plain parameter
            # The value goes in as the ORM gave it (PostgreSQL's driver: a typed int, e.g. Int2).
            slots.append((*slot, _as_given(param, self.kinds[slot[0]])))
            found.add(slot)
        if found != set(where.values()):
            return None  # a value that does not reach the statement as a parameter shapes it otherwise
        return queryset, compiler, sql, slots

    def all(self, *values, using: str = "default", offset: int = 0, limit: int | None = None) -> list:
        """The rows for `values`; with `limit`, `limit` rows from `offset` on (the ORM's slice
        `[offset:offset + limit]`, written after the compiled statement as numbers: with them as
        parameters, PostgreSQL made a plan for the values on every execution, never its one plan for
        the statement, 0.5–1 ms of planning for a page of a list; issue 17)."""
        if len(values) != len(self.kinds):
            raise TypeError(f"{len(self.kinds)} values expected, {len(values)} given.")
        values = [_value(kind, v) for kind, v in zip(self.kinds, values, strict=True)]
        if limit is None and offset:
            raise ValueError("An offset needs a limit.")
        window = None if limit is None else (max(int(limit), 0), int(offset))
        if window is not None and window[1] < 0:
            raise ValueError("An offset is not negative.")
        lengths = tuple(len(v) if issubclass(kind, Ids) else 0 for kind, v in zip(self.kinds, values, strict=True))
        if any(length > self.MAX_IDS for length in lengths):
            return self._orm(values, window, using)
        key = (using, lengths)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile(using, lengths)
            found = self._compiled[key]
        if found is None or (window is not None and not _sliceable(found[0].query)):
            return self._orm(values, window, using)
        queryset, compiler, sql, slots = found
        params = tuple(item if n is None else as_given(values[n][item] if issubclass(self.kinds[n], Ids) else values[n])
                       for n, item, as_given in slots)
        if window is not None:
            sql = f"{sql} LIMIT {window[0]:d} OFFSET {window[1]:d}"
        bound = copy.copy(compiler)  # the compiled state, on this thread's connection
        bound.connection = connections[using]
        bound.as_sql = lambda *args, **kwargs: (sql, params)
        fields = [selected[0] for selected in compiler.select[:compiler.col_count]]
        converters = _converters(self._converters.setdefault(key, {}), bound, fields)

        def get_converters(expressions):  # the iteration's columns: worked out once
            if len(expressions) == len(fields) and all(a is b for a, b in zip(expressions, fields, strict=True)):
                return converters
            return type(bound).get_converters(bound, expressions)

        bound.get_converters = get_converters
        evaluated = queryset._chain()
        evaluated.query.get_compiler = lambda *args, **kwargs: bound
        return list(evaluated)

    def _orm(self, values, window, using) -> list:
        queryset = self.make(*values).using(using)
        if window is not None:
            limit, offset = window
            queryset = queryset[offset:offset + limit]
        return list(queryset)


def _sliceable(query) -> bool:
    """Whether a LIMIT and OFFSET may be written after the compiled statement: not already sliced,
    not locking rows (FOR UPDATE comes after them), not a UNION of several."""
    return query.low_mark == 0 and query.high_mark is None and not query.select_for_update and not query.combinator


def counting(queryset) -> QuerySet:
    """`queryset`'s number of rows as a one-row queryset (`[n]`, or `[]` where there is none), for a
    `Statement`: `count()` is not a queryset. Grouped by a constant: one group."""
    return (queryset.order_by().annotate(_all=Value(1, output_field=IntegerField())).values("_all")
            .annotate(_n=Count("*")).values_list("_n", flat=True))


class Paged:
    """A statement's rows as a `Paginator`'s object list: `count` is given (a number, or a function
    asked once), and each page is read by the statement with its LIMIT and OFFSET written after it
    (compiled once, not per page number as the ORM's slices would be). `all(offset=, limit=)` is
    the statement's (a `Statement`, or a `permissions.ForReviewer` with its user given first)."""

    def __init__(self, all, *values, count):
        self._all, self._values, self._count = all, values, count

    def count(self) -> int:
        if callable(self._count):
            self._count = self._count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            rows = self._all(*self._values, offset=index, limit=1)
            if not rows:
                raise IndexError(index)
            return rows[0]
        if index.step not in (None, 1) or (index.start or 0) < 0 or index.stop is None or index.stop < 0:
            raise ValueError("Only plain slices [start:stop] of a page.")
        start = index.start or 0
        return self._all(*self._values, offset=start, limit=max(index.stop - start, 0))


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
