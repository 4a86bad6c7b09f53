"""Village resolution of addresses in the intake batch (tasks/intake.py `_resolve_villages`)."""

import pytest

from tasks.intake import intake_run
from tasks.models import TracingTask
from tests.test_intake_batch import send

# The dispatch step is the dispatch workflow's: these tests look at tasks as the intake leaves them.
pytestmark = [pytest.mark.usefixtures("no_dispatch"), pytest.mark.django_db]

from tests.intake_helpers import lead  # noqa: E402
from tests.test_intake_batch import no_dispatch  # noqa: E402,F401  (the fixture)

XIUZHONG = "460105001003"  # 秀中社区居民委员会, 秀英街道 (460105001), 秀英区
XINFENG = "460400103201"  # 新风村委会, 大成镇 (460400103), 儋州市; 大成居委会 is 460400103001
GONGJIAO = "460400103002"  # 工交居委会, 大成镇


def tasks_by_name() -> dict[str, TracingTask]:
    return {t.person.name: t for t in TracingTask.objects.select_related("person")}


def test_a_village_whose_name_lies_inside_the_named_township_does_not_count(hainan):
    # "大成居委会" is written "大成", which is inside "大成镇": the address names 新风村 only.
    send(
        lead(name="甲", division_code=None, address="海南省儋州市大成镇新风村委会3队"),
        lead(name="乙", division_code=None, address="儋州市大成镇工交居委会12号"),
    )
    batch = intake_run()
    tasks = tasks_by_name()
    assert (tasks["甲"].division_id, tasks["甲"].unresolved_reason) == (XINFENG, "")
    assert (tasks["乙"].division_id, tasks["乙"].unresolved_reason) == (GONGJIAO, "")
    assert batch.unresolved == 0


def test_the_village_itself_is_still_found_when_only_its_short_name_stands_alone(hainan):
    send(lead(name="丙", division_code=None, address="儋州市大成镇大成居委会8号"))
    intake_run()
    assert TracingTask.objects.get().division_id == "460400103001"


def test_a_township_lead_and_an_address_only_lead_of_the_county_count_each_village_once(hainan):
    send(
        lead(name="甲", division_code="460105001", address="秀中社区5栋"),
        lead(name="乙", division_code=None, address="海南省海口市秀英区秀英街道秀中社区5栋"),
    )
    batch = intake_run()
    tasks = tasks_by_name()
    for name in ("甲", "乙"):
        assert (tasks[name].division_id, tasks[name].unresolved_reason) == (XIUZHONG, "")
    assert batch.unresolved == 0


def test_the_longest_village_name_wins_over_one_it_contains(hainan):
    # 小酸梅村委会 and 酸梅村委会 are both villages of the same township.
    send(lead(name="甲", division_code="469007105", address="小酸梅村5号"))
    intake_run()
    assert TracingTask.objects.get().division_id == "469007105204"


def test_a_contained_name_standing_on_its_own_too_is_still_a_second_village(hainan):
    send(lead(name="甲", division_code="469007105", address="小酸梅村与酸梅村交界"))
    intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == "469007105"
    assert "2" in task.unresolved_reason and "小酸梅村委会" in task.unresolved_reason


def test_an_ambiguous_address_is_explained_with_each_village_once(hainan):
    send(
        lead(name="甲", division_code="460105001", address="秀中社区与秀华社区之间"),
        lead(name="乙", division_code=None, address="海口市秀英区秀中社区与秀华社区之间"),
    )
    intake_run()
    for task in TracingTask.objects.all():
        assert task.division_id == "460105001"
        assert task.unresolved_reason == "地址同时匹配 2 个村（社区）：秀华社区居民委员会、秀中社区居民委员会"


def test_one_mistyped_character_of_a_village_name_still_finds_it(hainan):
    send(lead(name="甲", division_code=None, address="海口市秀英区长流镇康宁村3组12号"))
    intake_run()
    assert TracingTask.objects.get().division_id == "460105100201"  # 康安村委会


def test_a_mistyped_name_close_to_two_villages_is_left_unresolved(hainan):
    # 秀?社区 is one character away from 秀华社区, 秀海社区 and 秀中社区 of 秀英街道.
    send(lead(name="甲", division_code=None, address="海口市秀英区秀英街道秀甲社区1号"))
    intake_run()
    task = TracingTask.objects.get()
    assert task.division_id == "460105001" and "秀华社区居民委员会" in task.unresolved_reason
