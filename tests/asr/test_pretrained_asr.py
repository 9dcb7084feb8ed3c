"""ganglion-asr's pretrained catalogue, and scripts/make_catalogue.py writing one that
from_pretrained serves from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import threading
from pathlib import Path

import pytest
import torch
import yaml
from asr_fixtures import tiny_asr_config

from ganglion.pretrained.catalogue_files import read_catalogue
from ganglion_asr.models import EncDecCTCModel

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "plugins" / "asr" / "ganglion_asr" / "pretrained.yaml"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_catalogue", ROOT / "scripts" / "make_catalogue.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGLION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANGLION_PRETRAINED_CATALOGUE", raising=False)


@pytest.fixture
def archive(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_asr_config()
    model = EncDecCTCModel(cfg)
    (tmp_path / "release").mkdir()
    return model, model.save_to(tmp_path / "release" / "QuartzNetDigits.ganglion")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A 127.0.0.1 server over tmp_path/release, counting requests."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    handler = functools.partial(Handler, directory=str(tmp_path / "release"))
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_the_shipped_catalogue_lists_the_quick_start_digit_model():
    (info,) = [i for i in EncDecCTCModel.list_available_models() if i.name == "QuartzNetDigits"]
    assert info.model == "EncDecCTCModel" and info.class_ is EncDecCTCModel
    assert "plugin 'asr'" in info.provider
    assert "WER" in info.description and info.size > 1_000_000
    assert len(info.sha256) == 64 and info.location.endswith("/QuartzNetDigits.ganglion")
    assert [i.name for i in read_catalogue(SHIPPED)] == ["QuartzNetDigits"]
    assert "PLACEHOLDER" in SHIPPED.read_text()  # the release fills in the real base URL


def test_make_catalogue_writes_entries_from_archives_that_from_pretrained_serves(
    archive, server, tmp_path, capsys
):
    model, path = archive
    base, requests = server
    script = _script()
    out = tmp_path / "release" / "catalogue.yaml"
    described = "QuartzNetDigits=tiny test model"
    assert (
        script.main([str(path), "--base-url", base, "-o", str(out), "--description", described])
        == 0
    )
    (entry,) = yaml.safe_load(out.read_text())
    assert entry == {
        "name": "QuartzNetDigits",
        "class": "EncDecCTCModel",
        "description": "tiny test model",
        "location": f"{base}/QuartzNetDigits.ganglion",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "size": path.stat().st_size,
    }
    # the catalogue argument comes before the shipped catalogue's entry of the same name
    restored = EncDecCTCModel.from_pretrained("QuartzNetDigits", catalogue=f"{base}/catalogue.yaml")
    assert requests == ["/catalogue.yaml", "/QuartzNetDigits.ganglion"]
    assert torch.equal(
        restored.decoder.decoder_layers[0].weight, model.decoder.decoder_layers[0].weight
    )
    EncDecCTCModel.from_pretrained("QuartzNetDigits", catalogue=f"{base}/catalogue.yaml")
    assert len(requests) == 2  # catalogue and archive from the cache
    # re-run without --description: the description is kept; without --base-url: relative
    assert script.main([str(path), "-o", str(out)]) == 0
    (entry,) = yaml.safe_load(out.read_text())
    assert (
        entry["description"] == "tiny test model"
        and entry["location"] == "QuartzNetDigits.ganglion"
    )
    assert "PLACEHOLDER" not in out.read_text()
    restored = EncDecCTCModel.from_pretrained("QuartzNetDigits", catalogue=out.as_uri())
    assert torch.equal(
        restored.decoder.decoder_layers[0].weight, model.decoder.decoder_layers[0].weight
    )


def test_make_catalogue_refuses_what_is_not_an_archive(tmp_path, capsys):
    script = _script()
    junk = tmp_path / "junk.ganglion"
    junk.write_bytes(b"not a zip")
    out = tmp_path / "cat.yaml"
    assert script.main([str(junk), "-o", str(out)]) == 2
    assert f"{junk}: not a usable .ganglion archive" in capsys.readouterr().err
    assert not out.exists()
    assert script.main([str(tmp_path / "absent.ganglion")]) == 2
    assert "absent.ganglion: no such file" in capsys.readouterr().err
    assert script.main([str(junk), "--base-url", "ftp://h/x"]) == 2
    assert "--base-url 'ftp://h/x': expected an http://" in capsys.readouterr().err
