"""Pretrained models: the catalogue plugins publish, downloads from a local HTTP server into
the cache (checksummed, resumed, reused offline), and from_pretrained end to end."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
import torch

import ganglion
from ganglion import ModelPT, hookimpl
from ganglion.errors import GanglionError, UnknownNameError
from ganglion.pretrained import (
    DownloadError,
    PretrainedModelInfo,
    cache_dir,
    download,
    find_pretrained,
    list_pretrained,
)

PAYLOAD = bytes(range(256)) * 400  # 100 KiB


class Server:
    """A local HTTP server over a dict of files; records requests; can cut a response short
    or ignore Range headers."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.cut_after: int | None = None  # bytes to send before dropping the connection
        self.honour_range = True
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                header = self.headers.get("Range")
                if header and server.honour_range:
                    start = int(header.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    self.wfile.write(body[: server.cut_after])
                    server.cut_after = None
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))


class Net(ModelPT):
    def __init__(self, cfg, trainer=None):
        super().__init__(cfg, trainer)
        self.linear = torch.nn.Linear(3, 3)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _catalogue_plugin(entries, model=Net, name="Net"):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            register(name, model, pretrained=entries)

    ganglion.plugins.register(Plugin(), name=f"catalogue-{name}")


# -- the catalogue ------------------------------------------------------------------------------
def test_plugins_publish_catalogue_entries_through_register_models():
    entry = {
        "name": "net-en",
        "description": "English",
        "url": "https://example.org/net.ganglion",
        "sha256": "a" * 64,
    }
    _catalogue_plugin([entry])
    (info,) = Net.list_available_models()
    assert isinstance(info, PretrainedModelInfo)
    assert (info.name, info.description, info.url, info.sha256, info.model) == (
        "net-en",
        "English",
        entry["url"],
        "a" * 64,
        "Net",
    )
    assert "catalogue-Net" in info.provider
    assert (info.pretrained_model_name, info.location) == (info.name, info.url)
    assert find_pretrained("net-en") == info


def test_malformed_entries_are_skipped_with_a_warning_and_explained_when_asked_for():
    _catalogue_plugin(
        [
            {"name": "ok", "url": "file:///models/ok.ganglion", "sha256": "b" * 64},
            {"name": "nosum", "url": "https://example.org/x.ganglion"},
            {"name": "ftp", "url": "ftp://example.org/x.ganglion", "sha256": "c" * 64},
        ]
    )
    with pytest.warns(UserWarning, match="'sha256' must be 64 hex digits"):
        names = [i.name for i in list_pretrained()]
    assert names == ["ok"]
    with pytest.raises(GanglionError, match=r"'nosum' of model 'Net' .* is malformed"):
        find_pretrained("nosum")


def test_unknown_names_list_close_matches_and_known_names():
    _catalogue_plugin(
        [{"name": "QuartzNet15x5Base-En", "url": "https://e.org/q.ganglion", "sha256": "d" * 64}]
    )
    with pytest.raises(UnknownNameError, match=r"Did you mean 'QuartzNet15x5Base-En'\?"):
        Net.from_pretrained("QuartzNet15x5Base-Em")


def test_two_plugins_publishing_one_name_is_an_error_naming_both():
    class Other(Net):
        pass

    entry = {"name": "dup", "url": "https://e.org/d.ganglion", "sha256": "e" * 64}
    _catalogue_plugin([entry])
    _catalogue_plugin([entry], model=Other, name="Other")
    with pytest.raises(GanglionError, match="'dup' is published by both model 'Net'.*'Other'"):
        find_pretrained("dup")


# -- downloads ----------------------------------------------------------------------------------
def test_cache_dir_comes_from_the_environment_or_the_user_cache(monkeypatch, tmp_path):
    import platformdirs

    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("GANGLION_CACHE")
    assert cache_dir() == Path(platformdirs.user_cache_dir("ganglion"))


def test_download_verifies_shows_progress_and_reuses_the_cache_offline(server, capsys):
    server.files["/m.ganglion"] = PAYLOAD
    url = server.url("/m.ganglion")
    path = download(url, sha256=_sha(PAYLOAD), progress=True)
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(cache_dir()) and path.name == "m.ganglion"
    assert "100k" in capsys.readouterr().err.replace(" ", "").lower()  # tqdm's bar
    server.httpd.shutdown()  # no network from now on: a request is refused at once
    server.httpd.server_close()
    assert download(url, sha256=_sha(PAYLOAD)) == path
    assert len(server.requests) == 1


def test_a_checksum_mismatch_deletes_the_download(server):
    server.files["/m.ganglion"] = PAYLOAD
    with pytest.raises(DownloadError, match=f"expected sha256 {'f' * 64}, the download has"):
        download(server.url("/m.ganglion"), sha256="f" * 64)
    assert not any(p.is_file() and p.suffix != ".lock" for p in cache_dir().rglob("*"))


def test_an_interrupted_download_is_resumed_with_a_range_request(server):
    server.files["/m.ganglion"] = PAYLOAD
    server.cut_after = 30_000
    url = server.url("/m.ganglion")
    with pytest.raises(DownloadError, match="interrupted after 30000 of 102400 bytes"):
        download(url, sha256=_sha(PAYLOAD))
    (part,) = cache_dir().rglob("*.part")
    assert part.stat().st_size == 30_000
    path = download(url, sha256=_sha(PAYLOAD))
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1]["range"] == "bytes=30000-"


def test_a_server_ignoring_ranges_gets_the_whole_file_again(server):
    server.files["/m.ganglion"] = PAYLOAD
    server.cut_after = 1000
    server.honour_range = False
    url = server.url("/m.ganglion")
    with pytest.raises(DownloadError):
        download(url, sha256=_sha(PAYLOAD))
    assert download(url, sha256=_sha(PAYLOAD)).read_bytes() == PAYLOAD


def test_http_errors_name_the_url_and_status(server):
    url = server.url("/missing.ganglion")
    with pytest.raises(DownloadError, match=f"downloading {url} failed: HTTP 404"):
        download(url)
    with pytest.raises(DownloadError, match="only http://, https:// and file://"):
        download("ftp://example.org/x")


# -- from_pretrained ---------------------------------------------------------------------------
@pytest.fixture
def packed(tmp_path):
    ganglion.register_model("Net", Net)
    model = Net({})
    path = model.save_to(tmp_path / "net.ganglion")
    return model, path


def test_from_pretrained_takes_a_catalogue_name_served_over_http(server, packed):
    model, path = packed
    data = path.read_bytes()
    server.files["/net.ganglion"] = data
    entry = {
        "name": "net-v1",
        "description": "",
        "url": server.url("/net.ganglion"),
        "sha256": _sha(data),
    }
    ganglion.register_model("NetCatalogue", Net, pretrained=[entry])
    restored = Net.from_pretrained("net-v1")
    assert torch.equal(restored.linear.weight, model.linear.weight)
    server.httpd.shutdown()
    server.httpd.server_close()  # a request would be refused at once, not hang
    again = ModelPT.from_pretrained("net-v1")  # from the cache, no network
    assert torch.equal(again.linear.weight, model.linear.weight)


def test_from_pretrained_takes_a_path_and_file_and_http_urls(server, packed):
    model, path = packed
    server.files["/direct/net.ganglion"] = path.read_bytes()
    for source in (str(path), path.as_uri(), server.url("/direct/net.ganglion")):
        restored = ModelPT.from_pretrained(source)
        assert torch.equal(restored.linear.weight, model.linear.weight), source
    with pytest.raises(GanglionError, match="no archive at"):
        ModelPT.from_pretrained(str(path.with_name("absent.ganglion")))


# -- catalogue files ---------------------------------------------------------------------------
@pytest.fixture
def alone(ganglion_plugins_isolated, packed):
    """``packed`` with no installed plugin (their catalogues would be listed too)."""
    return packed


class SubNet(Net):
    pass


class Other(ModelPT):
    pass


def _write_catalogue(path: Path, entries: list[dict]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


def _file_entry(name: str, data: bytes, location: str, cls: str = "Net", **extra) -> dict:
    entry = {
        "name": name,
        "class": cls,
        "description": f"{name} for tests",
        "location": location,
        "sha256": _sha(data),
        "size": len(data),
    }
    entry.update(extra)
    return entry


def test_catalogue_files_list_entries_of_a_class_and_its_subclasses(tmp_path, alone):
    from ganglion.pretrained.catalogue import PretrainedModelInfo as Info

    ganglion.register_model("SubNet", SubNet)
    ganglion.register_model("Other", Other)
    entries = [
        _file_entry("net", b"1", "net.ganglion"),
        _file_entry("subnet", b"2", "https://example.org/sub.ganglion", cls="SubNet"),
        _file_entry("other", b"3", "file:///models/other.ganglion", cls="Other"),
    ]
    cat = _write_catalogue(tmp_path / "cat.yaml", entries)
    assert [i.name for i in Net.list_available_models(catalogue=cat)] == ["net", "subnet"]
    assert [i.name for i in SubNet.list_available_models(catalogue=str(cat))] == ["subnet"]
    assert [i.name for i in ModelPT.list_available_models(catalogue=cat)] == [
        "net",
        "other",
        "subnet",
    ]
    net = Net.list_available_models(catalogue=cat)[0]
    assert isinstance(net, Info) and net.class_ is Net and net.size == 1
    assert net.location == (tmp_path / "net.ganglion").as_uri()  # relative to the catalogue
    assert net.pretrained_model_name == "net" and net.description == "net for tests"
    assert Net.list_available_models() == []  # no catalogue anywhere


def test_from_pretrained_downloads_verifies_caches_and_refreshes(server, alone, tmp_path):
    model, path = alone
    data = path.read_bytes()
    server.files["/rel/v1/net.ganglion"] = data
    server.files["/cat.yaml"] = (
        f"- {{name: net-v1, class: Net, location: v1/net.ganglion, sha256: {_sha(data)}, "
        f"size: {len(data)}}}\n"
    ).encode()
    cat = _write_catalogue(
        tmp_path / "cat.yaml", [_file_entry("net-v1", data, server.url("/rel/v1/net.ganglion"))]
    )
    restored = Net.from_pretrained("net-v1", catalogue=cat, map_location="cpu")
    assert torch.equal(restored.linear.weight, model.linear.weight)
    assert len(server.requests) == 1
    cached = next(cache_dir().rglob("net.ganglion"))
    assert cached.parent.name == _sha(data)[:24]  # content-addressed
    Net.from_pretrained("net-v1", catalogue=cat)
    assert len(server.requests) == 1  # the cached copy, no request
    Net.from_pretrained("net-v1", catalogue=cat, refresh=True)
    assert len(server.requests) == 2
    # a catalogue at a URL, with a location relative to it; read once, then from the cache
    remote = server.url("/cat.yaml")
    assert [i.url for i in Net.list_available_models(catalogue=remote)] == [
        server.url("/v1/net.ganglion")
    ]
    server.httpd.shutdown()
    server.httpd.server_close()  # offline from now on
    again = ModelPT.from_pretrained("net-v1", catalogue=[remote, cat])
    assert torch.equal(again.linear.weight, model.linear.weight)


def test_a_checksum_or_size_mismatch_deletes_the_download_and_says_why(server, alone, tmp_path):
    _, path = alone
    data = path.read_bytes()
    server.files["/net.ganglion"] = data
    url = server.url("/net.ganglion")
    bad_sha = _file_entry("bad-sha", data, url, sha256="0" * 64)
    small = _file_entry("small", data, url, size=len(data) - 1)
    cat = _write_catalogue(tmp_path / "cat.yaml", [bad_sha, small])
    with pytest.raises(DownloadError, match=f"expected sha256 {'0' * 64}, the download has "):
        Net.from_pretrained("bad-sha", catalogue=cat)
    with pytest.raises(DownloadError, match=f"says {len(data) - 1} bytes but the server"):
        Net.from_pretrained("small", catalogue=cat)
    downloads = cache_dir() / "downloads"
    assert not [p for p in downloads.rglob("*") if p.is_file() and p.suffix != ".lock"]


def test_unreachable_archives_say_the_url_and_where_to_put_a_copy(server, alone, tmp_path):
    from ganglion.pretrained.lookup import cached_path, find_model

    model, path = alone
    data = path.read_bytes()
    missing = server.url("/gone.ganglion")
    cat = _write_catalogue(tmp_path / "cat.yaml", [_file_entry("net", data, missing)])
    with pytest.raises(DownloadError, match=f"{missing} failed: HTTP 404") as err:
        Net.from_pretrained("net", catalogue=cat)
    target = cached_path(find_model("net", catalogue=cat))
    assert f"save it as {target}" in str(err.value)
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(DownloadError, match=f"cannot download {missing}.*save it as {target}"):
        Net.from_pretrained("net", catalogue=cat)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)  # fetched by hand: used with no network
    restored = Net.from_pretrained("net", catalogue=cat)
    assert torch.equal(restored.linear.weight, model.linear.weight)


def test_unknown_names_suggest_close_ones_from_every_catalogue(tmp_path, alone):
    cat = _write_catalogue(tmp_path / "cat.yaml", [_file_entry("QuartzNetDigits", b"x", "q")])
    with pytest.raises(UnknownNameError, match=r"Did you mean 'QuartzNetDigits'\?.*Known"):
        Net.from_pretrained("QuartzNetDigit", catalogue=cat)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- [unclosed\n", r"cat.yaml, line 2, column 1 \(from .*\): not valid YAML"),
        ("name: x\n", "expected a list of entries"),
        ("- 3\n", "entry 1: expected a mapping"),
        ("- {name: n, class: Net, location: x}\n", r"entry 1 \(n\): key 'sha256' is missing"),
        (
            f"- {{name: n, class: Net, location: x, sha256: {'a' * 63}}}\n",
            r"entry 1 \(n\): key 'sha256' must be 64 hex digits",
        ),
        (
            f"- {{name: n, class: Net, location: x, sha256: {'a' * 64}, size: -1}}\n",
            "key 'size' must be a positive number",
        ),
        (
            f"- {{name: n, class: Net, url: x, location: x, sha256: {'a' * 64}}}\n",
            r"unknown key\(s\) url",
        ),
        (
            f"- {{name: n, class: Net, locaton: x, sha256: {'a' * 64}}}\n",
            r"Did you mean 'location'\?",
        ),
        (
            f"- {{name: n, class: Net, location: 'ftp://h/x', sha256: {'a' * 64}}}\n",
            "key 'location' must be an http",
        ),
    ],
)
def test_a_corrupt_catalogue_names_the_file_the_entry_and_the_key(
    ganglion_plugins_isolated, tmp_path, text, match
):
    from ganglion.pretrained.catalogue_files import CatalogueError

    cat = tmp_path / "cat.yaml"
    cat.write_text(text)
    with pytest.raises(CatalogueError, match=match) as err:
        Net.list_available_models(catalogue=cat)
    assert str(cat) in str(err.value)


def test_a_missing_catalogue_is_named(ganglion_plugins_isolated, tmp_path):
    from ganglion.pretrained.catalogue_files import CatalogueError

    with pytest.raises(CatalogueError, match=r"absent.yaml does not exist"):
        ModelPT.list_available_models(catalogue=tmp_path / "absent.yaml")
    with pytest.raises(CatalogueError, match=r"cannot read the pretrained catalogue http"):
        ModelPT.list_available_models(catalogue="http://127.0.0.1:9/cat.yaml")


def test_catalogues_come_from_plugins_and_the_environment(tmp_path, alone, monkeypatch):
    model, path = alone
    data = path.read_bytes()
    # a JSON catalogue named by a file:// URL, with a file:// location
    a = tmp_path / "a.json"
    a.write_text(json.dumps([_file_entry("from-env", data, path.as_uri())]))
    b = _write_catalogue(tmp_path / "b.yaml", [_file_entry("from-env-2", data, "net.ganglion")])
    monkeypatch.setenv("GANGLION_PRETRAINED_CATALOGUE", os.pathsep.join([a.as_uri(), str(b)]))
    c = _write_catalogue(tmp_path / "c.yaml", [_file_entry("from-plugin", data, "net.ganglion")])

    class Plugin:
        @hookimpl
        def register_pretrained(self, register):
            register("tests", str(c))

    ganglion.plugins.register(Plugin(), name="catalogue-plugin")
    infos = Net.list_available_models()
    assert [i.name for i in infos] == ["from-env", "from-env-2", "from-plugin"]
    assert "catalogue 'tests' of plugin 'catalogue-plugin'" in infos[2].provider
    for name in ("from-env", "from-env-2", "from-plugin"):
        restored = Net.from_pretrained(name)
        assert torch.equal(restored.linear.weight, model.linear.weight), name


def test_listing_catalogues_imports_no_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, ganglion\n"
        "from ganglion.plugins import registry\n"
        "list(registry('pretrained'))\n"
        "from ganglion.pretrained.download import download\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_environment_variable_keeps_urls_whole():
    from ganglion.pretrained.catalogue_files import split_sources

    value = "file:///a/c.yaml:/b/c.yaml:http://127.0.0.1:8080/c.yaml::rel/c.json"
    assert split_sources(value, ":") == [
        "file:///a/c.yaml",
        "/b/c.yaml",
        "http://127.0.0.1:8080/c.yaml",
        "rel/c.json",
    ]
    assert split_sources("C:\\a.yaml;https://h/c.yaml", ";") == ["C:\\a.yaml", "https://h/c.yaml"]


def test_the_pretrained_command_lists_and_fetches(alone, tmp_path, capsys):
    from ganglion.cli import main
    from ganglion.pretrained.lookup import cached_path, find_model

    _, path = alone
    data = path.read_bytes()
    cat = _write_catalogue(tmp_path / "cat.yaml", [_file_entry("net", data, "net.ganglion")])
    assert main(["pretrained", "list", "--catalogue", str(cat), "--class", "Net"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "CLASS", "SIZE", "DESCRIPTION"]
    assert out[1].split()[:2] == ["net", "Net"] and out[1].endswith("net for tests")
    assert main(["pretrained", "list", "--catalogue", str(cat), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["sha256"] == _sha(data)
    assert main(["pretrained", "fetch", "net", "--catalogue", str(cat)]) == 0
    fetched = Path(capsys.readouterr().out.strip())
    assert fetched == cached_path(find_model("net", catalogue=cat)) and fetched.read_bytes() == data
    assert main(["pretrained", "fetch", "nett", "--catalogue", str(cat)]) == 2
    assert "Did you mean 'net'?" in capsys.readouterr().err
