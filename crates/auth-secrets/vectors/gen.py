"""Golden vectors for auth-secrets, produced by the real flytekit and flyte packages.

Run through gen.sh, which installs the pinned versions into a fresh venv. Every case sets up an
environment and a directory of files, asks flytekit's SecretsManager for a secret, and records
what it returned or raised. The Rust tests (tests/it/vectors.rs) replay the table.

In the recorded strings the case's temporary secrets directory is written as "{dir}".
"""

import argparse
import base64
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile

import flytekit
from flytekit.core.context_manager import ExecutionState, FlyteContextManager, SecretsManager

D = {"FLYTE_SECRETS_DEFAULT_DIR": "{dir}"}


def case(name, request, env=None, files=None, mode="task"):
    return {
        "name": name,
        "mode": mode,
        "env": dict(env or {}),
        "files": dict(files or {}),
        "request": {
            "group": request.get("group"),
            "key": request.get("key"),
            "group_version": request.get("group_version"),
            "encode_mode": request.get("encode_mode", "r"),
        },
    }


def text(s):
    return {"text": s}


def raw(b):
    return {"b64": base64.b64encode(b).decode("ascii")}


GK = {"group": "group", "key": "key"}
PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"

CASES = [
    # Environment variables: prefix, upper-casing, group_version, stripping.
    case("env-prefixed", GK, {**D, "_FSEC_GROUP_KEY": "  s3cret \n"}),
    case("env-unprefixed-ignored-in-a-task", GK, {**D, "GROUP_KEY": "s3cret"}),
    case("env-unprefixed-used-locally", GK, {**D, "GROUP_KEY": "s3cret"}, mode="local"),
    case("env-prefixed-wins-locally", GK, {**D, "_FSEC_GROUP_KEY": "a", "GROUP_KEY": "b"}, mode="local"),
    case("env-not-found-locally", GK, D, mode="local"),
    case("env-group-version", {**GK, "group_version": "v1"}, {**D, "_FSEC_GROUP_V1_KEY": "vv"}),
    case("env-group-version-missing", {**GK, "group_version": "v1"}, {**D, "_FSEC_GROUP_KEY": "x"}),
    case("env-mixed-case", {"group": "My-Group", "key": "aPi.Key"}, {**D, "_FSEC_MY-GROUP_API.KEY": "m"}),
    case("env-case-sensitive", GK, {**D, "_fsec_group_key": "x", "_FSEC_group_key": "y"}),
    case("env-empty-value", GK, {**D, "_FSEC_GROUP_KEY": ""}),
    case("env-python-whitespace-only", GK, {**D, "_FSEC_GROUP_KEY": PY_SPACE}),
    case("env-python-whitespace-around", GK, {**D, "_FSEC_GROUP_KEY": "\x1c\u3000in ner\x1f\xa0\x85"}),
    case("env-zero-width-kept", GK, {**D, "_FSEC_GROUP_KEY": "\u200bz\ufeff"}),
    case("env-unicode-upper", {"group": "straße", "key": "ﬁle"}, {**D, "_FSEC_STRASSE_FILE": "u"}),
    case("env-space-in-names", {"group": " g ", "key": "k k"}, {**D, "_FSEC_ G _K K": "sp"}),
    case("env-key-only", {"key": "token"}, {**D, "_FSEC_TOKEN": "t"}),
    case("env-group-only", {"group": "token"}, {**D, "_FSEC_TOKEN": "t"}),
    case("env-nothing-requested", {}, {**D, "_FSEC_": "bare"}),
    case("nothing-requested-nothing-set", {}, D),
    # FLYTE_SECRETS_* overrides.
    case("prefix-override", GK, {**D, "FLYTE_SECRETS_ENV_PREFIX": "MY_", "MY_GROUP_KEY": "p"}),
    case("prefix-override-stripped", GK, {**D, "FLYTE_SECRETS_ENV_PREFIX": " P_ ", "P_GROUP_KEY": "p"}),
    case("prefix-override-empty-is-default", GK, {**D, "FLYTE_SECRETS_ENV_PREFIX": "", "_FSEC_GROUP_KEY": "d"}),
    case("prefix-override-blank-is-no-prefix", GK, {**D, "FLYTE_SECRETS_ENV_PREFIX": "  ", "GROUP_KEY": "n"}),
    case("prefix-override-not-uppercased", GK, {**D, "FLYTE_SECRETS_ENV_PREFIX": "my_", "my_GROUP_KEY": "l"}),
    case("default-dir-stripped", GK, {"FLYTE_SECRETS_DEFAULT_DIR": " \t{dir}\n"}, {"group/key": text("f")}),
    case("default-dir-empty-is-default", GK, {"FLYTE_SECRETS_DEFAULT_DIR": ""}),
    case("default-dir-default", {"group": "flyte-auth-vector-group", "key": "KEY"}, {}),
    case("file-prefix", GK, {**D, "FLYTE_SECRETS_FILE_PREFIX": "pre_"}, {"group/pre_key": text("fp")}),
    case("file-prefix-stripped", GK, {**D, "FLYTE_SECRETS_FILE_PREFIX": " x-\n"}, {"group/x-key": text("fp")}),
    case("file-prefix-not-on-group", GK, {**D, "FLYTE_SECRETS_FILE_PREFIX": "pre_"}, {"pre_group/key": text("no")}),
    case("file-prefix-group-version", {**GK, "group_version": "V1"}, {**D, "FLYTE_SECRETS_FILE_PREFIX": "p."},
         {"group/v1/p.key": text("gv")}),
    case("file-prefix-key-only", {"key": "Tok"}, {**D, "FLYTE_SECRETS_FILE_PREFIX": "p."}, {"p.tok": text("k")}),
    case("file-prefix-before-slash", {"group": "g", "key": "a/B"}, {**D, "FLYTE_SECRETS_FILE_PREFIX": "p."},
         {"g/p.a/b": text("slash")}),
    # Files: path, lower-casing, stripping, text and binary reads.
    case("file-basic", GK, D, {"group/key": text("  from file \n\n")}),
    case("file-lower-cased", {"group": "GrOuP", "key": "KEY"}, D, {"group/key": text("lc")}),
    case("file-upper-case-name-not-found", {"group": "GrOuP", "key": "KEY"}, D, {"GrOuP/KEY": text("uc")}),
    case("file-unicode-lower", {"group": "İx", "key": "ΟΔΟΣ"}, D, {"i̇x/οδος": text("sigma")}),
    case("file-group-version", {**GK, "group_version": "v2"}, D, {"group/v2/key": text("v2")}),
    case("file-key-only", {"key": "Solo"}, D, {"solo": text("solo")}),
    case("file-spaces-in-names", {"group": " G ", "key": "K K"}, D, {" g /k k": text("sp")}),
    case("file-nested-key", {"group": "g", "key": "a/b"}, D, {"g/a/b": text("nested")}),
    case("file-absolute-key", {"group": "g", "key": "/flyte-auth-vector-absolute"}, D),
    case("file-python-whitespace", GK, D, {"group/key": text(PY_SPACE + "x y" + PY_SPACE)}),
    case("file-crlf-translated", GK, D, {"group/key": raw(b"a\r\nb\r\n")}),
    case("file-lone-cr-translated", GK, D, {"group/key": raw(b"\ra\rb\r")}),
    case("file-bom-kept", GK, D, {"group/key": raw(b"\xef\xbb\xbfbom\n")}),
    case("file-not-utf8", GK, D, {"group/key": raw(b"\xff\xfe\x00x")}),
    case("file-empty", GK, D, {"group/key": text("")}),
    case("file-is-a-directory", GK, D, {"group/key": {"dir": True}}),
    case("file-binary", {**GK, "encode_mode": "rb"}, D, {"group/key": raw(b"\x0b\x00\xffab\x1c\xa0\n")}),
    case("file-binary-crlf-kept", {**GK, "encode_mode": "rb"}, D, {"group/key": raw(b"\r\na\r\nb\r\n\x0c")}),
    case("file-binary-not-utf8", {**GK, "encode_mode": "rb"}, D, {"group/key": raw(b"\xff\xfe\x00x")}),
    case("file-binary-env-wins", {**GK, "encode_mode": "rb"}, {**D, "_FSEC_GROUP_KEY": " env "},
         {"group/key": raw(b"file")}),
    case("env-wins-over-file", GK, {**D, "_FSEC_GROUP_KEY": "env"}, {"group/key": text("file")}),
    case("file-used-when-env-missing-locally", GK, D, {"group/key": text("file")}, mode="local"),
    case("not-found", GK, D),
    case("not-found-group-version", {**GK, "group_version": "v1"}, D),
]

FLYTE2_SECRETS = [
    {"key": "my-secret"},
    {"key": "MY_SECRET"},
    {"key": "openai-api-key", "group": "team-a"},
    {"key": "k", "group": ""},
    {"key": "straße"},
    {"key": "api.key"},
    {"key": "1st"},
    {"key": "abc\n"},
    {"key": "x", "as_env_var": "CUSTOM_NAME"},
    {"key": "x", "as_env_var": "lower"},
]


def run_case(c):
    tmp = tempfile.mkdtemp(prefix="flyte-secrets-")
    try:
        root = os.path.join(tmp, "secrets")
        os.mkdir(root)
        for rel, spec in c["files"].items():
            path = os.path.join(root, rel)
            if spec.get("dir"):
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = spec["text"].encode("utf-8") if "text" in spec else base64.b64decode(spec["b64"])
            with open(path, "wb") as f:
                f.write(data)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update({k: v.replace("{dir}", root) for k, v in c["env"].items()})
        cwd = os.getcwd()
        os.chdir(tmp)  # so that no flytekit.config of the caller's is read
        try:
            return record(c, root)
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)
    finally:
        shutil.rmtree(tmp)


def record(c, root):
    def unroot(s):
        return s.replace(root, "{dir}")

    mode = ExecutionState.Mode.LOCAL_TASK_EXECUTION if c["mode"] == "local" else ExecutionState.Mode.TASK_EXECUTION
    ctx = FlyteContextManager.current_context()
    state = ctx.execution_state.with_params(mode=mode)
    r = c["request"]
    with FlyteContextManager.with_context(ctx.with_execution_state(state)):
        sm = SecretsManager()
        out = dict(c)
        out["env_var"] = sm.get_secrets_env_var(r["group"], r["key"], r["group_version"])
        try:
            out["file"] = unroot(sm.get_secrets_file(r["group"], r["key"], r["group_version"]))
        except Exception as e:  # noqa: BLE001 - the vector records whatever flytekit raises
            out["file"] = None
            out["file_error"] = type(e).__name__
        try:
            v = sm.get(r["group"], r["key"], r["group_version"], encode_mode=r["encode_mode"])
            out["result"] = raw(v) if isinstance(v, bytes) else text(v)
        except Exception as e:  # noqa: BLE001
            out["result"] = {"error": type(e).__name__, "message": unroot(str(e))}
    return out


def flyte2(flyte_root):
    spec = importlib.util.spec_from_file_location("flyte_secret", os.path.join(flyte_root, "flyte", "_secret.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = []
    for args in FLYTE2_SECRETS:
        row = {"request": args}
        try:
            row["as_env_var"] = mod.Secret(**args).as_env_var
        except Exception as e:  # noqa: BLE001
            row["error"] = type(e).__name__
            row["message"] = str(e)
        out.append(row)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--flyte-root", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    import glob

    (meta,) = glob.glob(os.path.join(a.flyte_root, "flyte-*.dist-info", "METADATA"))
    with open(meta, encoding="utf-8") as f:
        flyte_version = next(line.split(":", 1)[1].strip() for line in f if line.startswith("Version:"))
    doc = {
        "about": "Generated by crates/auth-secrets/vectors/gen.sh from the real flytekit "
        "(SecretsManager) and flyte (Secret.as_env_var); do not edit by hand.",
        "flytekit": flytekit.__version__,
        "flyte": flyte_version,
        "python": platform.python_version(),
        "secrets_manager": [run_case(c) for c in CASES],
        "flyte2_as_env_var": flyte2(a.flyte_root),
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"wrote {len(doc['secrets_manager'])} cases to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
