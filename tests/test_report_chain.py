"""The chain of transmission (issue 7): one recursive query over source_task, scoped, graph page."""

from __future__ import annotations

import pytest

from reports.reading import chain
from tests.conftest import HOME_VILLAGE
from tests.factories import TracingTaskFactory
from tests.workflow_fixtures import OTHER_COUNTY_VILLAGE

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(hainan):
    case = TracingTaskFactory(division_id=HOME_VILLAGE, status="approved", priority=1)
    g1 = [
        TracingTaskFactory(division_id=HOME_VILLAGE, source_task=case, generation=1, priority=1)
        for _ in range(3)
    ]
    g2 = [
        TracingTaskFactory(division_id=HOME_VILLAGE, source_task=g1[0], generation=2, priority=1)
        for _ in range(2)
    ]
    far = TracingTaskFactory(division_id=OTHER_COUNTY_VILLAGE, source_task=g1[1], generation=2, priority=1)
    TracingTaskFactory(division_id=HOME_VILLAGE, priority=1)  # unrelated
    return case, g1, g2, far


def test_the_chain_holds_the_case_and_every_task_its_contacts_opened(
    cluster, duty_officer, django_assert_max_num_queries
):
    case, g1, g2, far = cluster
    with django_assert_max_num_queries(4):
        graph = chain(duty_officer, case.pk)
    ids = {n["id"] for n in graph["nodes"]}
    assert ids == {f"t{t.pk}" for t in [case, *g1, *g2, far]}
    assert {(e["source"], e["target"]) for e in graph["edges"]} >= {
        (f"t{g1[0].pk}", f"t{g2[0].pk}"),
        (f"t{case.pk}", f"t{g1[2].pk}"),
    }
    assert graph["generations"] == {0: 1, 1: 3, 2: 3}
    hidden = next(n for n in graph["nodes"] if n["id"] == f"t{far.pk}")
    assert hidden["visible"] is False and "task" not in hidden and "division" not in hidden


def test_the_graph_endpoint_and_pages(client, cluster, duty_officer, password):
    case = cluster[0]
    assert client.login(username=duty_officer.username, password=password)
    data = client.get(f"/api/v1/reports/chain/{case.pk}/").json()
    assert len(data["nodes"]) == 7
    page = client.get(f"/reports/tasks/{case.pk}/chain/").content.decode()
    assert "vendor/cytoscape/cytoscape.min.js" in page and " style=" not in page
    cluster_page = client.get(f"/reports/tasks/{case.pk}/cluster/")
    assert cluster_page.status_code == 200 and b'data-testid="chain-size">7<' in cluster_page.content


def test_a_chain_of_2000_tasks_in_one_query(hainan, duty_officer, django_assert_max_num_queries):
    from django.db import connection

    case = TracingTaskFactory(division_id=HOME_VILLAGE, priority=1)
    with connection.cursor() as cursor:  # a binary tree of 2,000 tasks, in one statement
        cursor.execute("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
            INSERT INTO tasks_person (person_key, id_number, id_number_hash, name, phone, phone_hash, created_at)
            SELECT 'chain:' || i, '', '', '', '', '', now() FROM n""")
        cursor.execute(
            """
            INSERT INTO tasks_tracingtask (person_id, status, priority, division_id, unresolved_reason, address, batch_id, generation,
                created_at, updated_at, clock_alerts, version, legal_hold, legal_hold_reason)
            SELECT p.id, 'new', 1, %s, '', '', %s, 1, now(), now(), 0, 1, false, ''
            FROM tasks_person p WHERE p.person_key LIKE 'chain:%%' ORDER BY p.id""",
            [HOME_VILLAGE, case.batch_id],
        )
        cursor.execute(
            """
            WITH ordered AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM tasks_tracingtask WHERE id <> %s AND batch_id = %s),
                 parents AS (SELECT o.id, coalesce(p.id, %s) AS parent FROM ordered o LEFT JOIN ordered p ON p.k = o.k / 2)
            UPDATE tasks_tracingtask t SET source_task_id = parents.parent FROM parents WHERE t.id = parents.id""",
            [case.pk, case.batch_id, case.pk],
        )
    with django_assert_max_num_queries(3):
        graph = chain(duty_officer, case.pk)
    assert len(graph["nodes"]) == 2000 and len(graph["edges"]) == 1999
