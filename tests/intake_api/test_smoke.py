from tests.factories import make_small_city, make_staff, bearer


async def test_admin_reads_org_unit(session, intake_client):
    units = await make_small_city(session)
    admin = await make_staff(session, "admin", "admin", units["3302"])
    await session.commit()
    r = await intake_client.get("/v1/admin/org-units/330203001", headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert r.json()["parent_code"] == "330203"
