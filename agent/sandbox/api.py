"""The sandbox's public surface (implemented by the sibling modules; this file is the contract).

    python = find_python(repo, explicit)   # explicit > $VIRTUAL_ENV > repo/.venv > repo/venv > ours
    sandbox = Sandbox(repo, python=python, settings=SandboxSettings())
    result: RunResult = sandbox.run(
        {"tests/integration/test_x.py": "...source..."},  # files to add to the workspace copy
        select=["tests/integration/test_x.py"],  # pytest args (paths, node ids); None = the files
        reruns=0,                 # extra in-interpreter rounds over the selected tests
        shuffle_seed=None,        # an int randomises test order (per round) and seeds `random`
        trace=["shop/orders.py"], # repo files whose executed lines are recorded per test
        timeout=None,             # whole-run wall clock; per-test limit comes from settings
    )
    sandbox.level     -> IsolationLevel actually in force (probed once: bwrap > unshare > process)
    sandbox.workspace -> Path of the private copy (tracked + untracked non-ignored files, no .git)
    sandbox.close()   # removes the copy; also a context manager

    probe_isolation() -> (IsolationLevel, notes)  # for `itarch doctor`; cached per process
    available_levels() -> [IsolationLevel, ...]  # every level that works here, strongest first
    inspect_python(python) -> PythonInfo         # version, pytest version, prefixes (cached)

Errors a user can cause raise `SandboxError` (bad isolation setting, bad file path) or its
subclass `TargetPythonError` (interpreter missing, broken, or without pytest): one-line messages.

Semantics worth knowing:
- `files` may also replace an existing repo file (e.g. a mutant); after the run every file is
  back as it was. Files passed to run() are removed again, and any repo file the run changed,
  created or deleted is restored and listed in `RunResult.changed_paths` (caches such as
  `__pycache__`, `.pytest_cache`, `.hypothesis` and `.coverage*` are ignored).
- Outcomes come from our pytest plugin, one `TestOutcome` per test per round (`run` = round).
  Setup/teardown errors are "error"; a strict XPASS is "failed" with `xfail_strict=True` and no
  `exc_type`; xfailed items carry the underlying `exc_type` and `assertion`.
- A test over `settings.test_timeout` fails with `timed_out=True`; when the run's wall clock
  runs out the whole process tree is killed, `RunResult.timed_out` is set, finished outcomes are
  kept and the test that was running is reported failed with `timed_out=True`.
- Collection errors don't stop the other files (`--continue-on-collection-errors`).
- Runs on one Sandbox are serialised (one workspace); use several Sandboxes for parallelism.

Isolation, level by level (`agent/sandbox/isolation.py` builds the commands):
- bwrap: the system read-only; private tmpfs /tmp; $HOME an empty tmpfs; the user's repo path
  an empty tmpfs (repo directories on the interpreter's sys.path show the copy, read-only);
  the interpreter's prefixes re-shown read-only; own net (loopback only), pid, ipc and uts
  namespaces; --die-with-parent, --new-session, --clearenv + the allowlisted environment.
- unshare: own user, net (lo brought up), pid and mount namespaces; the user's repo and $HOME
  re-mounted read-only from inside; a private TMPDIR, but the rest of the filesystem (and /tmp)
  is the user's.
- process: a child in its own session, with the allowlisted environment and the limits, and
  nothing else: NOT isolated; logged as a warning and reported as `isolation="process"`.
Environment everywhere: PATH (target's bin dir first), LANG, LC_*, TZ, TERM, PYTHONHASHSEED,
HOME (an empty per-run dir), TMPDIR (unshare/process). Nothing else, secrets included.

Limits (set by the in-sandbox bootstrap, inherited by every test process): RLIMIT_AS
(memory_mb), RLIMIT_CPU (cpu_seconds), RLIMIT_FSIZE (file_size_mb), RLIMIT_CORE=0 and
RLIMIT_NPROC (max_processes). The kernel does not apply RLIMIT_NPROC to root (uid 0 outside any
user namespace, or mapped to it), and outside a user namespace of its own it would count all of
the user's processes, so it is skipped at the process level; the pid namespace and the tree
kill still end every process a run started. The per-test timeout uses SIGALRM (a test that sets
its own ITIMER_REAL competes with it) with a faulthandler watchdog behind it for code that never
returns to the interpreter; that watchdog ends the pytest process, so later tests of that run
are not reported.
"""
