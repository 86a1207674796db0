"""pyflyte's side of the shared keyring, for the end-to-end tests.

Runs flytekit's own keyring code (flytekit/clients/auth/keyring.py, loaded from the installed
flytekit wheel without importing the rest of flytekit) on Python keyring's SecretStorage
backend, exactly as pyflyte does after a login, a refresh and a logout.

  retrieve ENDPOINT                  -> JSON {"access_token", "refresh_token", "id_token"} or null
  store ENDPOINT ACCESS [REFRESH]    -> KeyringStore.store (a pyflyte login)
  refresh ENDPOINT TOKEN_URL CLIENT [AUDIENCE]
                                     -> a refresh grant with the stored refresh token, then
                                        KeyringStore.store of the answer (a pyflyte refresh);
                                        prints the new access token
  delete ENDPOINT                    -> KeyringStore.delete (a pyflyte logout)
  items ENDPOINT                     -> JSON list of every Secret Service item of ENDPOINT:
                                        {"username", "label", "attributes"} (no secrets)

Flyte 2's SDK (flyte/remote/_client/auth/_keyring.py from the installed flyte wheel, with a
stand-in for its logging module, the only other part of flyte it imports):

  flyte2-retrieve ENDPOINT           -> JSON {"access_token", "refresh_token"} or null
  flyte2-store ENDPOINT ACCESS [REFRESH]
                                     -> KeyringStore.store (a Flyte 2 login)
  flyte2-delete ENDPOINT             -> KeyringStore.delete (a Flyte 2 logout)
"""

import importlib.util
import json
import pathlib
import sys
import urllib.parse
import urllib.request


def flytekit_keyring():
    spec = importlib.util.find_spec("flytekit")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("flytekit is not installed in this Python")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "clients" / "auth" / "keyring.py"
    module_spec = importlib.util.spec_from_file_location("flytekit_auth_keyring", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def flyte2_keyring():
    import logging
    import types

    spec = importlib.util.find_spec("flyte")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("flyte (Flyte 2's SDK) is not installed in this Python")
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    stub = types.ModuleType("flyte._logging")
    stub.logger = logging.getLogger("flyte")
    sys.modules.setdefault("flyte", types.ModuleType("flyte"))
    sys.modules["flyte._logging"] = stub
    path = root / "remote" / "_client" / "auth" / "_keyring.py"
    module_spec = importlib.util.spec_from_file_location("flyte2_auth_keyring", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def flyte2(cmd, endpoint, argv):
    f2 = flyte2_keyring()
    store = f2.KeyringStore
    if cmd == "flyte2-retrieve":
        c = store.retrieve(endpoint)
        print(json.dumps(None if c is None else {
            "access_token": c.access_token,
            "refresh_token": c.refresh_token,
        }))
    elif cmd == "flyte2-store":
        refresh = argv[4] if len(argv) > 4 else None
        store.store(f2.Credentials(access_token=argv[3], refresh_token=refresh, for_endpoint=endpoint))
    elif cmd == "flyte2-delete":
        store.delete(endpoint)
    else:
        sys.exit(f"unknown command {cmd}")


def main(argv):
    cmd, endpoint = argv[1], argv[2]
    import keyring
    backend = keyring.get_keyring()
    if "SecretService" not in type(backend).__module__:
        sys.exit(f"Python keyring chose {type(backend)}, not the Secret Service")
    if cmd.startswith("flyte2-"):
        return flyte2(cmd, endpoint, argv)
    fk = flytekit_keyring()
    store = fk.KeyringStore
    if cmd == "retrieve":
        c = store.retrieve(endpoint)
        print(json.dumps(None if c is None else {
            "access_token": c.access_token,
            "refresh_token": c.refresh_token,
            "id_token": c.id_token,
        }))
    elif cmd == "store":
        refresh = argv[4] if len(argv) > 4 else None
        store.store(fk.Credentials(argv[3], refresh, endpoint))
    elif cmd == "refresh":
        token_url, client_id = argv[3], argv[4]
        c = store.retrieve(endpoint)
        if c is None or not c.refresh_token:
            sys.exit("no refresh token stored")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": c.refresh_token,
            "client_id": client_id,
        }
        if len(argv) > 5:
            form["audience"] = argv[5]
        body = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(token_url, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
        })
        with urllib.request.urlopen(request, timeout=20) as response:
            answer = json.load(response)
        store.store(fk.Credentials(
            answer["access_token"],
            answer.get("refresh_token") or c.refresh_token,
            endpoint,
            id_token=answer.get("id_token"),
        ))
        print(answer["access_token"])
    elif cmd == "delete":
        store.delete(endpoint)
    elif cmd == "items":
        import secretstorage
        from contextlib import closing
        with closing(secretstorage.dbus_init()) as bus:
            items = []
            for item in secretstorage.search_items(bus, {"service": endpoint}):
                attributes = dict(item.get_attributes())
                items.append({
                    "username": attributes.get("username"),
                    "label": item.get_label(),
                    "attributes": attributes,
                })
            items.sort(key=lambda i: (i["username"] or "", i["label"]))
            print(json.dumps(items))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
