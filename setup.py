"""Package mapping: the design card's folders at the root become ``infermeter.<folder>``.

pyproject.toml holds the metadata; this file only computes the package list, so that a new
subpackage in any area is picked up without editing a list by hand.
"""

from setuptools import find_packages, setup

AREAS = ("exporters", "ingest", "slo", "alerts", "chargeback", "dashboards")


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = ["infermeter"] + [f"infermeter.{p}" for p in find_packages("infermeter")]
    package_dir = {"infermeter": "infermeter"}
    for area in AREAS:
        packages.append(f"infermeter.{area}")
        packages += [f"infermeter.{area}.{p}" for p in find_packages(area)]
        package_dir[f"infermeter.{area}"] = area
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()
setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
