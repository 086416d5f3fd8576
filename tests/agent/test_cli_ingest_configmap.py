"""``ragagent ingest`` of a mounted ConfigMap: each key once, and again on no update.

The kubelet writes a ConfigMap volume with its atomic writer: the files live in a
timestamped ``..<date>`` directory, ``..data`` links to it, and each key is a
symlink through ``..data``. An update writes a new timestamped directory and
swaps ``..data``; the key paths never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from tests.support.office_files import Slide, build_docx, build_pdf, build_pptx

pytestmark = pytest.mark.db

KEYS = {"faq.md": "# FAQ\n\nAnswers to common questions.", "guide.txt": "The guide text."}


def write_configmap_volume(root: Path, data: Mapping[str, str | bytes], stamp: str) -> None:
    """Lay out (or atomically update) ``root`` exactly as the kubelet's atomic writer does;
    ``bytes`` values are binaryData keys, which the kubelet writes as they are."""
    root.mkdir(exist_ok=True)
    payload = root / f"..{stamp}"
    payload.mkdir()
    for key, value in data.items():
        if isinstance(value, bytes):
            (payload / key).write_bytes(value)
        else:
            (payload / key).write_text(value, encoding="utf-8")
    staged = root / "..data_tmp"
    staged.symlink_to(payload.name)
    old = (root / "..data").resolve() if (root / "..data").is_symlink() else None
    staged.replace(root / "..data")
    if old is not None:
        for stale in old.iterdir():
            stale.unlink()
        old.rmdir()
    for key in data:
        link = root / key
        if not link.is_symlink():
            link.symlink_to(f"..data/{key}")


def ingest(pg_url: str, tmp_path: Path, source: Path) -> str:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, ["ingest", str(source)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def external_ids(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT external_id FROM documents ORDER BY external_id")
        return [row[0] for row in rows]


def test_each_configmap_key_is_ingested_once_under_its_key_path(
    pg_url: str, tmp_path: Path
) -> None:
    volume = tmp_path / "knowledge" / "0"
    volume.parent.mkdir()
    write_configmap_volume(volume, KEYS, "2026_12_03_10_00_00.123456789")

    assert "ingested 2 documents: 2 created" in ingest(pg_url, tmp_path, volume)
    assert external_ids(pg_url) == sorted((volume / key).as_posix() for key in KEYS)
    assert "2 unchanged" in ingest(pg_url, tmp_path, volume)


def test_a_configmap_update_with_the_same_content_ingests_nothing_new(
    pg_url: str, tmp_path: Path
) -> None:
    volume = tmp_path / "knowledge"
    write_configmap_volume(volume, KEYS, "2026_12_03_10_00_00.123456789")
    ingest(pg_url, tmp_path, volume)
    before = external_ids(pg_url)

    write_configmap_volume(volume, KEYS, "2026_12_03_11_00_00.987654321")

    assert "ingested 2 documents: 2 unchanged" in ingest(pg_url, tmp_path, volume)
    assert external_ids(pg_url) == before


def test_binary_data_pdf_docx_and_pptx_keys_are_ingested_and_unchanged_on_an_update(
    pg_url: str, tmp_path: Path
) -> None:
    files = {
        "manual.pdf": build_pdf(["Lamp care.", "Wind the lamp at dusk."]),
        "handbook.docx": build_docx([("Keeper", ["The keeper logs the weather."])]),
        "briefing.pptx": build_pptx([Slide("Fog", ["Sound the horn every minute."])]),
    }
    volume = tmp_path / "knowledge"
    write_configmap_volume(volume, {**KEYS, **files}, "2026_12_03_10_00_00.123456789")

    assert "ingested 5 documents: 5 created" in ingest(pg_url, tmp_path, volume)
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT d.title, d.content_type, c.text FROM documents d JOIN chunks c "
            "ON c.document_id = d.id WHERE d.external_id = %s ORDER BY c.ordinal",
            ((volume / "manual.pdf").as_posix(),),
        ).fetchall()
        slides = conn.execute(
            "SELECT c.text FROM documents d JOIN chunks c ON c.document_id = d.id "
            "WHERE d.external_id = %s",
            ((volume / "briefing.pptx").as_posix(),),
        ).fetchall()
    assert slides == [("# slide 1: Fog\n\nSound the horn every minute.",)]
    assert rows == [
        ("manual.pdf", "application/pdf", "# p. 1\n\nLamp care."),
        ("manual.pdf", "application/pdf", "# p. 2\n\nWind the lamp at dusk."),
    ]
    write_configmap_volume(volume, {**KEYS, **files}, "2026_12_03_11_00_00.987654321")
    assert "ingested 5 documents: 5 unchanged" in ingest(pg_url, tmp_path, volume)


def test_a_broken_pdf_key_fails_the_run_naming_it_and_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    volume = tmp_path / "knowledge"
    write_configmap_volume(volume, {**KEYS, "scan.pdf": build_pdf([None])}, "2026_12_03_10_00_00.1")
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, ["ingest", str(volume)], env=env)
    assert result.exit_code == 1
    assert "scan.pdf: the PDF has no extractable text" in " ".join(result.output.split())
    assert external_ids(pg_url) == []
