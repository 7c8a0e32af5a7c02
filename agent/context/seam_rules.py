"""Which calls and decorators are integration points, decided by the callee's resolved name.

A name is resolved through the module's imports ("from subprocess import run" makes `run(...)`
"subprocess.run"); a call on an object is judged by its method name and by what the object was
built from (`conn = sqlite3.connect(...)` makes `conn.execute(...)` a database seam).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agent.schema import SeamKind

# What a tracked variable holds; seam kinds plus the two that only enable other rules.
HandleKind = str  # "database" | "http_client" | "web" | "cli" | "worker"

SUBPROCESS_CALLS = frozenset(
    {
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
        "subprocess.getoutput",
        "subprocess.getstatusoutput",
        "os.system",
        "os.popen",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
        "pexpect.spawn",
        "pexpect.run",
    }
)
SUBPROCESS_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
HTTP_CLIENT_CALLS = frozenset(
    {
        *(f"{lib}.{verb}" for lib in ("requests", "httpx") for verb in _HTTP_VERBS),
        "requests.Session",
        "requests.session",
        "httpx.stream",
        "httpx.Client",
        "httpx.AsyncClient",
        "urllib.request.urlopen",
        "urllib.request.Request",
        "urllib.request.build_opener",
        "urllib.request.urlretrieve",
        "urllib3.PoolManager",
        "urllib3.request",
        "urllib3.HTTPConnectionPool",
        "urllib3.HTTPSConnectionPool",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "aiohttp.ClientSession",
        "aiohttp.request",
    }
)
HTTP_CLIENT_CONSTRUCTORS = frozenset(
    {
        "requests.Session",
        "requests.session",
        "httpx.Client",
        "httpx.AsyncClient",
        "aiohttp.ClientSession",
        "urllib3.PoolManager",
        "urllib3.HTTPConnectionPool",
        "urllib3.HTTPSConnectionPool",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "urllib.request.build_opener",
    }
)
HTTP_CLIENT_TYPES = (
    "requests.Session",
    "httpx.Client",
    "httpx.AsyncClient",
    "aiohttp.ClientSession",
)

DB_PREFIXES = (
    "sqlite3.",
    "psycopg.",
    "psycopg2.",
    "asyncpg.",
    "aiosqlite.",
    "pymysql.",
    "MySQLdb.",
    "pymongo.",
    "motor.",
    "redis.",
    "django.db.transaction.",
    "django.db.connection.",
    "django.db.connections",
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.",
    "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.Session",
    "sqlalchemy.orm.scoped_session",
    "sqlalchemy.ext.asyncio.",
)
# Methods that mean database work on whatever object they are called on.
DB_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "commit",
        "rollback",
        "cursor",
        "begin",
        "begin_nested",
        "fetchone",
        "fetchall",
        "fetchmany",
        "select_for_update",
        "bulk_create",
        "bulk_update",
        "get_or_create",
        "update_or_create",
    }
)
# Methods that mean database work only on an object named like a session or connection.
DB_SESSION_METHODS = frozenset(
    {"add", "add_all", "query", "merge", "refresh", "flush", "scalar", "scalars", "exec"}
)
DB_RECEIVERS = frozenset(
    {"session", "db", "db_session", "dbsession", "conn", "connection", "cursor", "cur", "tx", "txn"}
)

WEB_APPS = frozenset(
    {
        "flask.Flask",
        "flask.Blueprint",
        "fastapi.FastAPI",
        "fastapi.APIRouter",
        "starlette.applications.Starlette",
        "starlette.routing.Router",
        "aiohttp.web.Application",
        "aiohttp.web.RouteTableDef",
        "quart.Quart",
        "quart.Blueprint",
        "sanic.Sanic",
        "sanic.Blueprint",
        "bottle.Bottle",
        "litestar.Litestar",
        "litestar.Router",
    }
)
ROUTE_DECORATORS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "head", "options", "trace"}
    | {"api_route", "websocket", "view"}
)
# Registration calls: (method name, index of the path argument, index of the HTTP method argument).
ROUTE_METHODS: dict[str, tuple[int, int | None]] = {
    "add_url_rule": (0, None),
    "add_api_route": (0, None),
    "add_route": (0, None),
    "add_websocket_route": (0, None),
    "add_api_websocket_route": (0, None),
    "add_get": (0, None),
    "add_post": (0, None),
    "add_put": (0, None),
    "add_patch": (0, None),
    "add_delete": (0, None),
    "add_head": (0, None),
    "add_view": (0, None),
}
ROUTE_CALLS = frozenset(
    {
        "django.urls.path",
        "django.urls.re_path",
        "django.conf.urls.url",
        "starlette.routing.Route",
        "starlette.routing.WebSocketRoute",
        "starlette.routing.Mount",
        *(f"aiohttp.web.{verb}" for verb in ("get", "post", "put", "patch", "delete", "head")),
        "aiohttp.web.route",
        "aiohttp.web.view",
    }
)

EVENT_CALLS = frozenset(
    {
        "django.dispatch.Signal",
        "django.dispatch.receiver",
        "blinker.signal",
        "blinker.Signal",
        "blinker.Namespace",
        "sqlalchemy.event.listen",
        "sqlalchemy.event.listens_for",
        "celery.shared_task",
    }
)
EVENT_METHODS = frozenset(
    {
        "publish",
        "emit",
        "subscribe",
        "unsubscribe",
        "send_robust",
        "add_listener",
        "remove_listener",
        "add_event_listener",
        "add_event_handler",
        "listens_for",
        "delay",
        "apply_async",
        "send_task",
    }
)
DJANGO_SIGNALS = frozenset(
    {
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "m2m_changed",
        "pre_migrate",
        "post_migrate",
        "request_started",
        "request_finished",
        "got_request_exception",
        "setting_changed",
    }
)

CLI_CALLS = frozenset(
    {
        "click.command",
        "click.group",
        "typer.Typer",
        "typer.run",
        "argparse.ArgumentParser",
        "fire.Fire",
        "docopt.docopt",
    }
)
HANDLE_CONSTRUCTORS: dict[str, HandleKind] = {
    **dict.fromkeys(WEB_APPS, "web"),
    "typer.Typer": "cli",
    "click.Group": "cli",
    "argparse.ArgumentParser": "cli",
    "celery.Celery": "worker",
}


@dataclass(frozen=True)
class CallView:
    """A call (or decorator) as the rules see it."""

    node: ast.expr
    args: list[ast.expr]
    keywords: list[ast.keyword]
    name: str  # resolved dotted callee, e.g. "subprocess.run", "self.conn.execute"
    text: str  # callee as written
    attr: str  # last attribute ("execute"); "" for a bare name
    receiver: str  # callee as written minus ".attr"
    receiver_kind: HandleKind | None


def callee_root(name: str) -> str:
    """The callee up to its first call: "requests.Session().get" -> "requests.Session"."""
    return name.split("()", 1)[0]


def _string_arg(view: CallView, index: int, *keywords: str) -> str | None:
    if len(view.args) > index:
        arg = view.args[index]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    for kw in view.keywords:
        if kw.arg in keywords and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    return None


def _short(node: ast.expr, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_detail(view: CallView) -> str:
    """`bus.publish('order.paid')`: the callee and its first argument when that is a literal."""
    first = ""
    if view.args:
        arg = view.args[0]
        plain = isinstance(arg, ast.Constant | ast.Name | ast.Attribute)
        first = _short(arg, 40) if plain else "…"
    elif view.keywords:
        first = "…"
    return f"{view.text}({first})"


def _methods(view: CallView, default: str) -> str:
    for kw in view.keywords:
        if kw.arg == "methods" and isinstance(kw.value, ast.List | ast.Tuple | ast.Set):
            names = [
                str(e.value).upper()
                for e in kw.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
            if names:
                return ",".join(names)
    return default


def route_decorator(view: CallView) -> str | None:
    """`@app.post("/orders")` -> "POST /orders"."""
    if view.attr not in ROUTE_DECORATORS:
        return None
    path = _string_arg(view, 0, "path", "rule")
    if path is None:
        return None
    if not (view.receiver_kind == "web" or path.startswith("/")):
        return None
    verb = view.attr.upper()
    if view.attr in {"route", "api_route", "view"}:
        verb = _methods(view, "GET" if view.attr != "view" else "ANY")
    elif view.attr == "websocket":
        verb = "WS"
    return f"{verb} {path}"


def route_call(view: CallView) -> str | None:
    """Registration calls: Flask add_url_rule, FastAPI/Starlette add_route, aiohttp add_get/
    add_route, Starlette Route(...), Django path(...)/re_path(...), aiohttp web.get(...)."""
    if view.name in ROUTE_CALLS:
        path = _string_arg(view, 0, "path", "route")
        if path is None:
            return None
        verb = view.name.rsplit(".", 1)[-1]
        verb = verb.upper() if verb in ROUTE_DECORATORS - {"route", "view"} else "ANY"
        return f"{_methods(view, verb)} {path}"
    if view.attr == "add_route" and len(view.args) >= 2:
        # aiohttp: add_route(method, path, handler); Starlette/FastAPI: add_route(path, endpoint)
        method, path = _string_arg(view, 0), _string_arg(view, 1)
        if method is not None and path is not None and not method.startswith("/"):
            return f"{method.upper()} {path}"
    if view.attr in ROUTE_METHODS:
        path = _string_arg(view, ROUTE_METHODS[view.attr][0], "path", "rule")
        if path is None:
            return None
        verb = view.attr.removeprefix("add_")
        verb = verb.upper() if verb in ROUTE_DECORATORS else "ANY"
        return f"{_methods(view, verb)} {path}"
    return None


def is_database(view: CallView) -> bool:
    root = callee_root(view.name)
    if root.startswith(DB_PREFIXES) or view.receiver_kind == "database":
        return True
    if ".objects." in view.name or view.name.startswith("objects."):  # Django ORM managers
        return True
    if view.attr in DB_METHODS:
        return True
    last = view.receiver.rsplit(".", 1)[-1]
    return view.attr in DB_SESSION_METHODS and last in DB_RECEIVERS


def is_http_client(view: CallView) -> bool:
    # `requests.Session().get(url)` is a call; `requests.get(url).json()` reads a response.
    return (
        view.name in HTTP_CLIENT_CALLS
        or callee_root(view.name) in HTTP_CLIENT_CONSTRUCTORS
        or view.receiver_kind == "http_client"
    )


def is_subprocess(view: CallView) -> bool:
    return view.name in SUBPROCESS_CALLS or view.name.startswith(SUBPROCESS_PREFIXES)


def is_event(view: CallView) -> bool:
    if view.name in EVENT_CALLS or view.attr in EVENT_METHODS:
        return True
    receiver_last = view.receiver.rsplit(".", 1)[-1].lower()
    signal_like = receiver_last.endswith("signal") or receiver_last in DJANGO_SIGNALS
    if view.attr in {"on", "once"}:
        return _string_arg(view, 0) is not None
    if view.attr in {"connect", "disconnect"} and view.receiver_kind is None:
        # signal.connect(handler); sqlite3.connect("db") and sock.connect((h, p)) are not events
        first = view.args[0] if view.args else None
        return signal_like or isinstance(first, ast.Name | ast.Attribute | ast.Lambda)
    if view.attr == "send":
        return signal_like or any(kw.arg == "sender" for kw in view.keywords)
    return False


def classify_call(view: CallView) -> tuple[SeamKind, str] | None:
    """The seam a call is, if any; the order settles overlaps (a client's .get is HTTP)."""
    if is_subprocess(view):
        return "subprocess", call_detail(view)
    if is_http_client(view):
        return "http_client", call_detail(view)
    if route := route_call(view):
        return "http_route", route
    if is_database(view):
        return "database", call_detail(view)
    if is_event(view):
        return "event", call_detail(view)
    if view.name in CLI_CALLS:
        return "cli_entry", call_detail(view)
    return None


def classify_decorator(view: CallView, target: str) -> tuple[SeamKind, str] | None:
    """The seam a decorator makes of the function it decorates (`target`)."""
    if route := route_decorator(view):
        return "http_route", f"{route} -> {target}"
    root = callee_root(view.name)
    if root in {"click.command", "click.group"} or (
        view.attr in {"command", "group"} and view.receiver_kind == "cli"
    ):
        return "cli_entry", f"{view.text} {target}"
    if root.startswith("django.db.transaction.") or root.startswith("sqlalchemy.ext.asyncio."):
        return "database", f"@{view.text} {target}"
    if root in EVENT_CALLS or view.attr in {"on", "subscribe", "listens_for", "connect"}:
        return "event", f"@{call_detail(view) if view.args else view.text} {target}"
    if view.attr == "task" and view.receiver_kind == "worker":
        return "event", f"@{view.text} {target}"
    return None


def handle_kind(view: CallView) -> HandleKind | None:
    """What a variable assigned from this call holds (for judging its method calls later):
    a client or connection, not the response or rows it returned."""
    root = callee_root(view.name)
    if root in HANDLE_CONSTRUCTORS:
        return HANDLE_CONSTRUCTORS[root]
    if root in HTTP_CLIENT_CONSTRUCTORS:
        return "http_client"
    if root.startswith(DB_PREFIXES) and view.attr not in DB_METHODS - {"cursor", "begin"}:
        return "database"
    if view.attr in {"cursor", "connect", "begin", "connection"} and is_database(view):
        return "database"
    return None


def annotation_kind(name: str) -> HandleKind | None:
    """What a parameter annotated with `name` holds (`session: Session` -> database)."""
    if name.startswith(HTTP_CLIENT_TYPES):
        return "http_client"
    if name.startswith(DB_PREFIXES):
        return "database"
    return None
