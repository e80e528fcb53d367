"""``extends`` on untrusted specs: only spec files, only in the spec's own tree, the built-in specs and
directories the person allowed; a refused file is named and never read (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec

SECRET = "root:TOPSECRET-HASH:0:0"
BASE = "archspec: 1\nname: base\ninput: [3, 16, 16]\nlayers: [relu]\n"


def _child(directory: Path, extends: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "net.yaml"
    path.write_text(f"archspec: 1\nextends: {extends}\nname: child\n")
    return path


def _error(path: Path, **options: object) -> str:
    with pytest.raises(archspec.SpecError) as caught:
        archspec.analyse(str(path), **options)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.mark.parametrize("name", ["secret.txt", "secret", "secret.yaml"])
def test_a_file_outside_the_tree_is_named_never_read(tmp_path, name):
    (tmp_path / name).write_text(SECRET + "\n")
    for extends in (str(tmp_path / name), f"../{name}"):
        message = _error(_child(tmp_path / "project", extends))
        assert SECRET not in message and "TOPSECRET" not in message
        assert f"cannot extend '{extends}'" in message


def test_only_spec_files_are_read_even_inside_the_tree(tmp_path):
    (tmp_path / "notes.txt").write_text(SECRET + "\n")
    message = _error(_child(tmp_path, "notes.txt"))
    assert "names a spec file (.yaml or .yml)" in message and "TOPSECRET" not in message


def test_a_yaml_file_that_is_no_spec_is_named_not_quoted(tmp_path):
    (tmp_path / "data.yaml").write_text(f"- {SECRET}\n")
    (tmp_path / "broken.yaml").write_text(f"{SECRET}: [\n")
    (tmp_path / "config.yaml").write_text(f"password: {SECRET}\n")
    for target in ("data.yaml", "broken.yaml", "config.yaml"):
        message = _error(_child(tmp_path, target))
        assert "TOPSECRET" not in message and target in message


def test_a_symlink_out_of_the_tree_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "base.yaml").write_text(BASE)
    project = tmp_path / "project"
    project.mkdir()
    (project / "base.yaml").symlink_to(outside / "base.yaml")
    assert "outside" in _error(_child(project, "base.yaml"))
    assert archspec.analyse(str(project / "net.yaml"), allow_dirs=[outside]).name == "child"


def test_allowed_directories_and_subdirectories(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.yaml").write_text(BASE)
    (tmp_path / "project" / "lib").mkdir(parents=True)
    (tmp_path / "project" / "lib" / "base.yaml").write_text(BASE)
    assert archspec.analyse(str(_child(tmp_path / "project", "lib/base.yaml"))).name == "child"
    child = _child(tmp_path / "project", "../shared/base.yaml")
    assert "--allow-dir DIR" in _error(child)
    graph = archspec.analyse(str(child), allow_dirs=[tmp_path / "shared"])
    assert graph.name == "child" and graph.output_shape == (3, 16, 16)
    spec = archspec.load(str(child), allow_dirs=[str(tmp_path / "shared")])
    assert archspec.analyse(spec, variables={}, input_shape=[3, 8, 8]).output_shape == (3, 8, 8)  # reloads
    with pytest.raises(archspec.UsageError, match="no such directory"):
        archspec.load(str(child), allow_dirs=[tmp_path / "missing"])


def test_built_in_specs_are_always_allowed(tmp_path):
    assert archspec.analyse(str(_child(tmp_path, "resnet18"))).parameters == 11_689_512
