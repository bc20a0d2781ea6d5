"""Backend settings: provider conventions, the config file, and keys only from the environment."""

from __future__ import annotations

import pytest

from transcreate.errors import SetupError
from transcreate.settings import load_config, model_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in (
        "DASHSCOPE_API_KEY",
        "DASHSCOPE_BASE_URL",
        "DIFY_API_KEY",
        "DIFY_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_IMAGE_MODEL",
        "TRANSCREATE_CONFIG",
        "TRANSCREATE_CACHE_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_dashscope_defaults_to_the_mainland_endpoint(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-1")
    settings = model_settings("dashscope")
    assert settings.base_url == "https://dashscope.aliyuncs.com/api/v1"
    assert settings.model == "qwen-image-edit-plus"
    assert settings.api_key == "sk-1"


def test_the_providers_own_variables_win_over_the_config_file(monkeypatch, tmp_path):
    (tmp_path / "transcreate.toml").write_text(
        '[backends.dashscope]\nbase_url = "https://from-file/api/v1"\nmodel = "qwen-image-edit"\n'
    )
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-1")
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1")
    settings = model_settings("dashscope")
    assert settings.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert settings.model == "qwen-image-edit"


def test_provider_specific_keys_arrive_as_options_and_numbers_are_typed(monkeypatch, tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text('[backends.dify]\nimage_input = "photo"\nmax_concurrency = 3\ntimeout = 30\n')
    monkeypatch.setenv("TRANSCREATE_CONFIG", str(config))
    monkeypatch.setenv("DIFY_API_KEY", "app-1")
    settings = model_settings("dify")
    assert settings.options == {"image_input": "photo"}
    assert (settings.max_concurrency, settings.timeout) == (3, 30.0)


def test_a_missing_key_names_the_variable_to_set():
    with pytest.raises(SetupError, match="set OPENAI_API_KEY"):
        model_settings("openai")


def test_a_key_written_in_the_config_file_is_refused(monkeypatch, tmp_path):
    (tmp_path / "transcreate.toml").write_text('[backends.openai]\napi_key = "sk-oops"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-1")
    with pytest.raises(SetupError, match="must not be written in a file") as raised:
        model_settings("openai")
    assert "sk-oops" not in str(raised.value)


def test_the_key_is_not_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    assert "sk-very-secret" not in repr(model_settings("openai"))


def test_a_named_config_file_that_is_missing_or_broken_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSCREATE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SetupError, match="config file not found"):
        load_config()
    broken = tmp_path / "broken.toml"
    broken.write_text("[backends\n")
    monkeypatch.setenv("TRANSCREATE_CONFIG", str(broken))
    with pytest.raises(SetupError, match="not a valid TOML"):
        load_config()


def test_the_result_cache_lives_in_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_settings("openai").cache_dir == tmp_path / "xdg" / "transcreate" / "model-results"


@pytest.mark.parametrize("variable", ["TRANSCREATE_OUTPUT_BASE_URL", "TRANSCREATE_PUBLIC_BASE_URL"])
def test_a_base_url_with_a_password_is_refused_before_it_reaches_a_link(monkeypatch, variable):
    from transcreate.errors import StorageError
    from transcreate.settings import storage_settings

    monkeypatch.setenv(variable, "https://ana:s3cret@files.example.com/out/")
    with pytest.raises(StorageError, match="user name and password") as refused:
        storage_settings({})
    assert "s3cret" not in str(refused.value)
    monkeypatch.setenv(variable, "https://files.example.com/out/")
    assert "files.example.com" in repr(storage_settings({}))
