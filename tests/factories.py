"""factory_boy factories. Divisions come from the real Hainan data loaded by the `hainan` fixture."""

import factory
from django.utils import timezone

from tasks.models import Division, IntakeBatch, Person, Priority, Role, TracingTask, User

DEFAULT_PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"测试用户{n}")
    role = Role.DUTY_OFFICER
    division = factory.LazyFunction(lambda: Division.objects.get(code="460105"))
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def _hash(kind: str, value: str) -> str:
    from tasks.validation import id_number_hash, phone_hash, upgrade_id15

    if not value:
        return ""
    if kind == "phone":
        return phone_hash(value)
    return id_number_hash(upgrade_id15(value) if len(value) == 15 else value.upper())


def _name_birth_hash(name: str, id_number: str) -> str:
    from tasks.validation import name_birth_hash, upgrade_id15

    if len(id_number) not in (15, 18):
        return ""
    return name_birth_hash(name, upgrade_id15(id_number) if len(id_number) == 15 else id_number.upper())


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    person_key = factory.Sequence(lambda n: f"test:{n}")
    name = factory.Sequence(lambda n: f"张{n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    id_number = ""
    # The blind index, as the intake computes it: phones are encrypted at rest (tasks/crypto.py), so
    # anything that finds a person by phone or ID (SMS replies, search) matches on these hashes.
    phone_hash = factory.LazyAttribute(lambda o: _hash("phone", o.phone))
    id_number_hash = factory.LazyAttribute(lambda o: _hash("id", o.id_number))
    name_birth_hash = factory.LazyAttribute(lambda o: _name_birth_hash(o.name, o.id_number))


class IntakeBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IntakeBatch

    status = IntakeBatch.Status.FINISHED
    finished_at = factory.LazyFunction(timezone.now)


class TracingTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TracingTask

    person = factory.SubFactory(PersonFactory)
    priority = Priority.RED_CODE
    division = factory.LazyFunction(lambda: Division.objects.get(code="460105001001"))
    batch = factory.SubFactory(IntakeBatchFactory)
