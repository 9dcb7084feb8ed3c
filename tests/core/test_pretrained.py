"""Pretrained models: the catalogue plugins publish, downloads from a local HTTP server into
the cache (checksummed, resumed, reused offline), and from_pretrained end to end."""

from __future__ import annotations

import hashlib
import http.server
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
