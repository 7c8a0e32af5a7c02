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
  `__pycache__`, `.pytest_cache`, `.hypothesis` and `.coverage*` are ignored; a `.git` the run
  created is listed as `.git/` and removed). Bytecode caches written by a run with `files` are
  deleted afterwards and the ones trusted from the last run without `files` put back, so no run
  can leave compiled code for a later one.
- Outcomes come from our pytest plugin, one `TestOutcome` per test per round (`run` = round).
  Setup/teardown errors are "error"; a strict XPASS is "failed" with `xfail_strict=True` and no
  `exc_type`; xfailed items carry the underlying `exc_type` and `assertion`.
- Results travel as HMAC-signed, numbered lines under a per-run key (see inside/itarch_pytest.py
  and results.py). A run whose results cannot be trusted (a forged, altered, missing or repeated
  line, a tamper report from inside, an exit status the results contradict) has every test
  reported as "error" with `exc_type="ResultTampering"`, and `RunResult.crashed` says why.
- `TestOutcome.network` lists non-loopback targets the test tried: through `socket` (wrapped),
  `_socket` (an audit hook) or, in the sandbox's own network namespace, anything else (the
  kernel's no-route counters).
- A test over `settings.test_timeout` fails with `timed_out=True`; when the run's wall clock
  runs out the whole process tree is killed, `RunResult.timed_out` is set, finished outcomes are
  kept and the test that was running is reported failed with `timed_out=True`.
- Once a case of a test function (its node id without `[...]`) has timed out, its other cases
  and later reruns are not run for another full timeout: they fail at setup with
  `timed_out=True` and "a sibling case timed out (...)". When the hang ended the process (the
  watchdog, the wall clock), the cases it never reached get the same outcome in the RunResult.
- Collection errors don't stop the other files (`--continue-on-collection-errors`).
- Runs on one Sandbox are serialised (one workspace); use several Sandboxes for parallelism.

Isolation, level by level (`agent/sandbox/isolation.py` builds the commands; SECURITY.md has the
threat model and what each level does and does not stop):
- bwrap: bubblewrap builds the mount plan (`isolation.mount_plan`): the system read-only; empty
  unwritable directories over /run, $HOME, the repository, its parent directory and every
  non-system top-level directory (/home, /root, /srv, /var, /mnt, ...); a private, size-bounded
  /tmp and /dev/shm; a minimal /dev; the interpreter's directories, the workspace (writable), the
  run's directory (writable) and our plugin shown on top. Own net (loopback only), pid, ipc and
  uts namespaces; every capability dropped; --die-with-parent, --new-session; bwrap itself
  starts with exactly the sandbox's environment (never on its command line).
- unshare: own user, net (lo brought up), pid, ipc, uts and mount namespaces; the bootstrap
  builds the same mount plan from inside, then drops every capability for good.
- process: a child in its own session, with the allowlisted environment, the limits and no
  capabilities, and nothing else: NOT isolated; logged as a warning and reported as
  `isolation="process"`.
Environment everywhere: PATH (target's bin dir first), LANG, LC_*, TZ, TERM, PYTHONHASHSEED,
HOME (an empty per-run dir), TMPDIR (unshare/process), and the variables the user lists in
`settings.pass_env` (when set). Nothing else, secrets included.

Limits (set by the in-sandbox bootstrap, inherited by every test process): RLIMIT_AS
(memory_mb), RLIMIT_CPU (cpu_seconds), RLIMIT_FSIZE (file_size_mb; the private /tmp and /dev/shm
hold twice that each), RLIMIT_CORE=0 and RLIMIT_NPROC (max_processes). The kernel does not apply
RLIMIT_NPROC to root (uid 0 outside any user namespace, or mapped to it), and outside a user
namespace of its own it would count all of the user's processes, so it is skipped at the process
level; the pid namespace and the tree kill still end every process a run started. The per-test
timeout uses SIGALRM (a test that sets its own ITIMER_REAL competes with it) with a faulthandler
watchdog behind it for code that never returns to the interpreter; that watchdog ends the pytest
process, so later tests of that run are not reported.
"""
