"""Every driver package has the same shape (a `config.py` with a strict, frozen pydantic `Settings`,
a `driver.py` with the class), the registries key each class by its own name, and each class has the
methods of its Protocol in drivers/base.py with the same parameters."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import pydantic
import pytest

import drivers
from drivers import base
from hub.errors import ConfigError

DRIVERS_DIR = Path(drivers.__file__).resolve().parent
ENTRIES: list[tuple[str, str, type[Any], type[Any]]] = (
    [(name, "protocol", cls, base.Decoder) for name, cls in drivers.DECODERS.items()]
    + [(name, "kind", cls, base.Sink) for name, cls in drivers.SINKS.items()]
    + [(name, "kind", cls, base.VideoSource) for name, cls in drivers.SOURCES.items()]
)
# A valid value of each driver's required settings.
EXAMPLES = {"url": "mqtt://127.0.0.1:1883"}
EXAMPLES_OF = {"drivers.rtsp_camera": {"url": "rtsp://127.0.0.1:8554/cam-001"}}
IDS = [f"{attr}={name}" for name, attr, _cls, _proto in ENTRIES]


def protocol_methods(protocol: type[Any]) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if callable(member) and not name.startswith("_")}


def package_of(cls: type[Any]) -> str:
    module = cls.__module__
    assert module.startswith("drivers.") and module.endswith(".driver"), module
    return module.removesuffix(".driver")


def test_the_registries_are_not_empty_and_every_package_is_registered() -> None:
    assert set(drivers.DECODERS) == {"mqtt", "zigbee2mqtt", "sia"}
    assert set(drivers.SINKS) == {"mqtt"}
    assert set(drivers.SOURCES) == {"rtsp"}
    packages = {m.name for m in pkgutil.iter_modules([str(DRIVERS_DIR)]) if m.ispkg}
    registered = {package_of(cls).removeprefix("drivers.") for _n, _a, cls, _p in ENTRIES}
    assert packages == registered, "a driver package that no registry knows is dead code"


@pytest.mark.parametrize(("name", "attr", "cls", "protocol"), ENTRIES, ids=IDS)
def test_a_driver_package_has_config_and_driver_modules(name: str, attr: str, cls: type[Any],
                                                        protocol: type[Any]) -> None:
    package = package_of(cls)
    folder = DRIVERS_DIR / package.removeprefix("drivers.")
    assert (folder / "config.py").is_file() and (folder / "driver.py").is_file()
    assert cls.__module__ == f"{package}.driver"
    exported = importlib.import_module(package)
    assert exported.Settings is importlib.import_module(f"{package}.config").Settings
    assert getattr(exported, cls.__name__) is cls


@pytest.mark.parametrize(("name", "attr", "cls", "protocol"), ENTRIES, ids=IDS)
def test_settings_are_a_strict_frozen_pydantic_model(name: str, attr: str, cls: type[Any],
                                                     protocol: type[Any]) -> None:
    settings = importlib.import_module(f"{package_of(cls)}.config").Settings
    examples = EXAMPLES_OF.get(package_of(cls), EXAMPLES)
    assert issubclass(settings, pydantic.BaseModel)
    assert settings.model_config.get("extra") == "forbid"
    assert settings.model_config.get("frozen") is True
    required = {k: examples[k] for k, f in settings.model_fields.items() if f.is_required()}
    instance = settings(**required)
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        settings(**required, no_such_setting=1)
    field = next(iter(settings.model_fields))
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        setattr(instance, field, getattr(instance, field))
    for fname, info in settings.model_fields.items():
        assert info.description or fname in required or info.metadata, f"{fname}: describe or bound it"


@pytest.mark.parametrize(("name", "attr", "cls", "protocol"), ENTRIES, ids=IDS)
def test_the_class_is_keyed_by_its_own_classvar(name: str, attr: str, cls: type[Any],
                                                protocol: type[Any]) -> None:
    assert getattr(cls, attr) == name
    hints = get_type_hints(cls, include_extras=True)
    assert hints[attr] == ClassVar[str], f"{cls.__name__}.{attr} must be a ClassVar[str]"
    assert attr in get_type_hints(protocol, include_extras=True)


@pytest.mark.parametrize(("name", "attr", "cls", "protocol"), ENTRIES, ids=IDS)
def test_the_class_has_the_methods_of_its_protocol(name: str, attr: str, cls: type[Any],
                                                   protocol: type[Any]) -> None:
    wanted = protocol_methods(protocol)
    assert wanted, f"{protocol.__name__} has no methods?"
    for method, signature in wanted.items():
        implementation = getattr(cls, method, None)
        assert callable(implementation), f"{cls.__name__} lacks {method}"
        assert list(inspect.signature(implementation).parameters) == list(signature.parameters), method
    init = list(inspect.signature(cls.__init__).parameters)
    assert init == ["self", "settings"], "a driver is built from its Settings alone"


def test_check_protocol_accepts_the_known_and_names_them_for_the_unknown() -> None:
    for known in ("mqtt", "zigbee2mqtt", "sia"):
        assert drivers.check_protocol(known) == known
    with pytest.raises(ConfigError) as caught:
        drivers.check_protocol("modbus")
    message = str(caught.value)
    assert "'modbus'" in message
    assert "known: mqtt, sia, zigbee2mqtt" in message
    assert sorted(drivers.PROTOCOLS) == ["mqtt", "sia", "zigbee2mqtt"]
