"""The architecture's boundaries, checked on the source:

(a) customers' services are the only writers of customers' tables: no other app package writes
    them with SQL (INSERT INTO / UPDATE / DELETE FROM / TRUNCATE / COPY … FROM) or the ORM
    (`.objects…create/update/delete/bulk_create/bulk_update/get_or_create/update_or_create`,
    `.save()` / `.delete()` on a customers model instance);
(b) migrations import only django, psycopg and the standard library (never app code, which
    changes after the migration is frozen);
(c) no `except ImportError`: every module of the project is always there.

PENDING_ELSEWHERE lists files whose fix belongs to other work; the list only shrinks: a file that
no longer breaks the rule fails the test until its entry is removed.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("accounts", "campaigns", "customers", "devtools", "messaging", "scrm")
WRITER_PACKAGE = "customers"

# (check, path) → why it is still allowed. Each entry goes when that work lands.
PENDING_ELSEWHERE: dict[tuple[str, str], str] = {
    # Benchmarks measure the product against raw writes and remove what they added; no service
    # deletes customers' rows wholesale or writes events without their effects, by design.
    ("writes", "devtools/benchmarks/engagement.py"): "the raw bulk_create of events that is the engagement baseline",
    ("writes", "devtools/benchmarks/campaign_dispatch.py"): "removing the benchmark's own identities and events",
    ("writes", "devtools/benchmarks/welcome.py"): "removing the customers and identities its callbacks created",
    ("writes", "devtools/benchmarks/group_sync.py"): "the known members' identities it sets up and their removal (with its groups)",
    ("writes", "devtools/benchmarks/wecom_contact_sync.py"): "removing the benchmark's own corp: its staff directory rows",
    ("writes", "devtools/benchmarks/inbox.py"): "the conversations' customers it sets up as a population would, and their removal",
    # Not an optional dependency: the audience class an integrator names on the command line.
    ("import_error", "devtools/simulator/audience.py"): "loading the --audience dotted path, a typo reported as a CommandError",
    # The synthetic population loads 5M tag links, 13M events, 1M profiles and consents with COPY
    # (customers and identities go through customers_upsert_bulk): no product service writes
    # history without its effects, by design. Development tool, not product code.
    ("writes", "devtools/population.py"): "COPY of synthetic tag links, events, profiles and consents, and their reset",
}

_WRITE_METHODS = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
_INSTANCE_WRITES = {"save", "delete"}
_SQL_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:ONLY\s+)?\"?\{?\s*([A-Za-z_][\w.]*)"
)


def _customers_models() -> dict[str, str]:
    """Model class name → table, for every model stored in a customers_ table."""
    return {m.__name__: m._meta.db_table for m in apps.get_models() if m._meta.db_table.startswith("customers_")}


def _sources(*, migrations: bool) -> list[Path]:
    files = []
    for package in APP_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if ("migrations" in path.parts) == migrations:
                files.append(path)
    return files


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class _WriteFinder(ast.NodeVisitor):
    """Writes to customers' tables in one module: ORM calls, instance saves, SQL text."""

    def __init__(self, path: str, source: str, models: dict[str, str]):
        self.path, self.source, self.models = path, source, models
        self.tables = set(models.values())
        self.model_names: set[str] = set()  # names bound to customers models in this module
        self.sql_templates: dict[str, str] = {}  # module constants holding sql.SQL("…") text
        self.findings: list[Finding] = []

    def run(self, tree: ast.Module) -> list[Finding]:
        for node in ast.walk(tree):
            self._collect_names(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                self._instance_writes(node)
            if isinstance(node, ast.Call):
                self._orm_write(node)
                self._composed_sql_write(node)
            if isinstance(node, ast.Constant | ast.JoinedStr):
                self._sql_text_write(node)
        return self.findings

    def _add(self, node: ast.AST, what: str) -> None:
        finding = Finding(self.path, node.lineno, what)
        if finding not in self.findings:
            self.findings.append(finding)

    # names ---------------------------------------------------------------------------------

    def _collect_names(self, node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "customers":
            for alias in node.names:
                if alias.name in self.models:
                    self.model_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if _is_get_model(value) and value.args[1].value in self.models:
                self.model_names.add(node.targets[0].id)
            template = _sql_template(value, self.sql_templates)
            if template is not None:
                self.sql_templates[node.targets[0].id] = template

    def _rooted_in_model(self, node: ast.AST) -> tuple[bool, list[str]]:
        """Whether an expression chain (calls and attributes) starts at a customers model; its attributes."""
        attrs: list[str] = []
        while True:
            if isinstance(node, ast.Attribute):
                attrs.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Call):
                node = node.func
            elif isinstance(node, ast.Subscript):
                node = node.value
            else:
                break
        if _is_get_model(node if isinstance(node, ast.Call) else None):
            return node.args[1].value in self.models, attrs
        return isinstance(node, ast.Name) and node.id in self.model_names, attrs

    # ORM -----------------------------------------------------------------------------------

    def _orm_write(self, call: ast.Call) -> None:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in _WRITE_METHODS):
            return
        rooted, attrs = self._rooted_in_model(func.value)
        if rooted and ("objects" in attrs or "_default_manager" in attrs):
            self._add(call, f"ORM .{func.attr}() on a customers model")

    def _instance_writes(self, scope: ast.AST) -> None:
        """`x.save()` / `x.delete()` where x was made from a customers model in the same function."""
        instances: set[str] = set()
        body = scope.body if isinstance(scope, ast.Module) else [scope]
        nodes = [n for stmt in body for n in ast.walk(stmt)]
        for node in nodes:
            if isinstance(node, ast.Assign) and self._rooted_in_model(node.value)[0]:
                for target in node.targets:
                    first = target.elts[0] if isinstance(target, ast.Tuple) and target.elts else target
                    if isinstance(first, ast.Name):
                        instances.add(first.id)
            elif (
                isinstance(node, ast.For) and isinstance(node.target, ast.Name) and self._rooted_in_model(node.iter)[0]
            ):
                instances.add(node.target.id)
        for node in nodes:
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _INSTANCE_WRITES
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in instances
            ):
                self._add(node, f"{node.func.value.id}.{node.func.attr}() on a customers model instance")

    # SQL -----------------------------------------------------------------------------------

    def _sql_text_write(self, node: ast.Constant | ast.JoinedStr) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str):
                return
            text = node.value
        else:
            text = ast.get_source_segment(self.source, node) or ""
        for match in _SQL_WRITE.finditer(text):
            target = match.group(1)
            model = target.split(".")[0]
            if target in self.tables or (model in self.model_names and target.endswith("._meta.db_table")):
                self._add(node, f"SQL write to {target}")

    def _composed_sql_write(self, call: ast.Call) -> None:
        """`sql.SQL("UPDATE {t} …").format(t=table(Customer))` and the like."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "format"):
            return
        template = _sql_template(func.value, self.sql_templates)
        if template is None:
            return
        for keyword in call.keywords:
            if keyword.arg and self._mentions_customers_table(keyword.value):
                pattern = re.compile(
                    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE|COPY)\s+\{" + keyword.arg + r"\}"
                )
                if pattern.search(template):
                    self._add(call, f"composed SQL write to {{{keyword.arg}}}")

    def _mentions_customers_table(self, node: ast.AST) -> bool:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name) and inner.id in self.model_names:
                return True
            if isinstance(inner, ast.Constant) and inner.value in self.tables:
                return True
        return False


def _is_get_model(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get_model"
        and len(node.args) == 2
        and all(isinstance(a, ast.Constant) for a in node.args)
        and node.args[0].value == "customers"
    )


def _sql_template(node: ast.AST, known: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "SQL"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def customers_table_writes(path: Path, models: dict[str, str]) -> list[Finding]:
    source = path.read_text()
    return _WriteFinder(_relative(path), source, models).run(ast.parse(source))


def migration_app_imports(path: Path) -> list[Finding]:
    allowed = {"django", "psycopg", "__future__", *sys.stdlib_module_names}
    findings = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else ["." * node.level + (node.module or "")]
        for name in names:
            if name.split(".")[0] not in allowed:
                findings.append(Finding(_relative(path), node.lineno, f"imports {name}"))
    return findings


def import_error_guards(path: Path) -> list[Finding]:
    findings = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if any(isinstance(c, ast.Name) and c.id in ("ImportError", "ModuleNotFoundError") for c in caught):
                findings.append(Finding(_relative(path), node.lineno, "except ImportError"))
    return findings


def _check(name: str, findings: list[Finding], scanned: list[str]) -> None:
    allowed = {path for check, path in PENDING_ELSEWHERE if check == name}
    unexpected = [f for f in findings if f.path not in allowed]
    assert not unexpected, "\n".join(map(str, unexpected))
    offending = {f.path for f in findings}
    stale = sorted(path for path in allowed if path in scanned and path not in offending)
    missing = sorted(path for path in allowed if path not in scanned)
    assert not stale and not missing, (
        f"PENDING_ELSEWHERE entries of {name!r} no longer needed (remove them): {stale + missing}"
    )


def test_only_customers_services_write_customers_tables():
    models = _customers_models()
    files = [p for p in _sources(migrations=False) if p.relative_to(ROOT).parts[0] != WRITER_PACKAGE]
    findings = [f for path in files for f in customers_table_writes(path, models)]
    _check("writes", findings, [_relative(p) for p in files])


def test_migrations_import_no_app_code():
    files = _sources(migrations=True)
    _check("migration_imports", [f for p in files for f in migration_app_imports(p)], [_relative(p) for p in files])


def test_no_import_error_guards_in_project_code():
    files = [*_sources(migrations=False), ROOT / "manage.py"]
    _check("import_error", [f for p in files for f in import_error_guards(p)], [_relative(p) for p in files])


def test_the_write_finder_catches_writes_and_leaves_reads_alone(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from django.apps import apps\n"
        "from customers.models import ChannelIdentity, Tag as T\n"
        "from psycopg import sql\n"
        "_SET = sql.SQL('UPDATE {t} SET x = 1')\n"
        "_READ = sql.SQL('SELECT * FROM {t}')\n"
        "def writes(ids):\n"
        "    ChannelIdentity.objects.filter(pk__in=ids).update(do_not_disturb=True)\n"  # 7
        "    tag, _ = T.objects.get_or_create(name='x')\n"  # 8
        "    tag.save()\n"  # 9
        "    Identity = apps.get_model('customers', 'ChannelIdentity')\n"
        "    Identity.objects.filter(pk=1).delete()\n"  # 11
        "    cursor.execute('DELETE FROM customers_customertag WHERE tag_id = %s', [1])\n"  # 12
        "    cursor.execute(f'UPDATE {ChannelIdentity._meta.db_table} SET unionid = %s')\n"  # 13
        "    cursor.execute(_SET.format(t=sql.Identifier(T._meta.db_table)))\n"  # 14
        "def reads(ids, job):\n"
        "    list(ChannelIdentity.objects.filter(pk__in=ids).values_list('pk'))\n"
        "    T.objects.filter(name='x').exists()\n"
        "    cursor.execute('SELECT * FROM customers_customer WHERE id = %s FOR UPDATE', [1])\n"
        "    cursor.execute(_READ.format(t=sql.Identifier(T._meta.db_table)))\n"
        "    cursor.execute('INSERT INTO campaigns_delivery SELECT id FROM customers_customer ON CONFLICT DO UPDATE SET x = 1')\n"
        "    job.save()\n"
        "    SyncJob.objects.filter(pk=1).update(state='done')\n"
    )
    source = sample.read_text()
    finder = _WriteFinder("sample.py", source, _customers_models())
    lines = sorted({f.line for f in finder.run(ast.parse(source))})
    assert lines == [7, 8, 9, 11, 12, 13, 14]
