"""Demo supervision orders for `manage.py seed_demo` (reports/management/commands/_demo_data.py): one
order in each state a demo role acts on, so that the commander, the duty officer, the team leader and
the grid worker can each walk their part (docs/duty.md#supervision-orders)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tasks.models import TracingTask, Unit, User

from .models import SupervisionOrder
from .services.orders import acknowledge_order, complete_order, issue_order, reply_order, sweep_orders

TEAM_DIVISION = "460105001"


def seed_demo_orders(*, now: datetime) -> int:
    """Create the demo orders once (none when any order exists); returns how many were created."""
    if SupervisionOrder.objects.exists():
        return 0
    users = {
        u.username: u for u in User.objects.filter(username__in=["commander", "duty", "leader", "field"])
    }
    team = Unit.objects.filter(kind=Unit.Kind.TEAM, division_id=TEAM_DIVISION).first()
    if team is None or len(users) < 4:
        return 0
    commander, duty, leader, field = users["commander"], users["duty"], users["leader"], users["field"]
    tasks = list(
        TracingTask.objects.filter(division__code__startswith=TEAM_DIVISION)
        .order_by("pk")
        .values_list("pk", flat=True)[:3]
    )
    # Waiting for the team to acknowledge (the leader's part).
    issue_order(
        actor=commander,
        title="秀英街道红码人员今日清零",
        text="请于今日18时前完成关联任务人员的核查，并反馈落实情况。",
        deadline=now + timedelta(hours=6),
        priority="urgent",
        owner_unit=team,
        tasks=tasks[:2],
        divisions=[TEAM_DIVISION],
        now=now - timedelta(minutes=30),
    )
    # The grid worker is answering in person (in progress).
    personal = issue_order(
        actor=duty,
        title="核实返乡人员居家情况",
        text="请上门核实并拍照留存。",
        deadline=now + timedelta(hours=3),
        owner_user=field,
        tasks=tasks[2:3],
        now=now - timedelta(hours=2),
    )
    reply_order(order=personal, actor=field, text="已电话联系，今日下午上门。", now=now - timedelta(hours=1))
    # Completed by the team, waiting for the commander to accept or send back.
    done = issue_order(
        actor=commander,
        title="整理本周密接人员转运台账",
        deadline=now + timedelta(days=1),
        priority="important",
        owner_unit=team,
        now=now - timedelta(hours=5),
    )
    acknowledge_order(order=done, actor=leader, now=now - timedelta(hours=4))
    reply_order(order=done, actor=leader, text="台账已整理过半。", now=now - timedelta(hours=3))
    complete_order(order=done, actor=leader, text="台账已整理完毕并上传。", now=now - timedelta(hours=1))
    # Past its deadline: escalated by the sweep (shown as overdue, counted in the statistics).
    issue_order(
        actor=duty,
        title="补报昨日核酸采样统计",
        deadline=now - timedelta(hours=2),
        owner_unit=team,
        now=now - timedelta(hours=8),
    )
    sweep_orders(now=now)
    return 4
