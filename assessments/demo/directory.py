"""Who and where: regions, units, rounds and users of the demo.

Units are the five district 区委政法委 whose documents are the seeds; each is supervised (主管部门)
by its district party committee. Every demo user has the password PASSWORD.
"""

PASSWORD = "Demo-Pass-2024"

# (name, level, parent name); parents come first. Region names are unique in this list.
REGIONS = [
    ("湖南省", "province", None),
    ("长沙市", "city", "湖南省"),
    ("株洲市", "city", "湖南省"),
    ("衡阳市", "city", "湖南省"),
    ("岳麓区", "district", "长沙市"),
    ("望城区", "district", "长沙市"),
    ("渌口区", "district", "株洲市"),
    ("芦淞区", "district", "株洲市"),
    ("南岳区", "district", "衡阳市"),
]

UNITS = [
    {
        "name": "中共株洲市渌口区委政法委员会",
        "short_name": "渌口区委政法委",
        "region": "渌口区",
        "supervisor": "中共株洲市渌口区委员会",
    },
    {
        "name": "中共衡阳市南岳区委政法委员会",
        "short_name": "南岳区委政法委",
        "region": "南岳区",
        "supervisor": "中共衡阳市南岳区委员会",
    },
    {
        "name": "中共株洲市芦淞区委政法委员会",
        "short_name": "芦淞区委政法委",
        "region": "芦淞区",
        "supervisor": "中共株洲市芦淞区委员会",
    },
    {
        "name": "中共长沙市望城区委政法委员会",
        "short_name": "望城区委政法委",
        "region": "望城区",
        "supervisor": "中共长沙市望城区委员会",
    },
    {
        # Exactly as in the title of seed 004's report.
        "name": "中共长沙市岳麓区委员会政法委员会",
        "short_name": "岳麓区委政法委",
        "region": "岳麓区",
        "supervisor": "中共长沙市岳麓区委员会",
    },
]

# One round per year the seeds cover, plus an open current round so officers see something due.
# Past rounds stay open in the demo so that their drafts can still be edited and submitted.
ROUNDS = [
    {"year": 2020, "title": "2020年度绩效自评", "deadline": "2021-03-31", "is_open": True},
    {"year": 2022, "title": "2022年度绩效自评", "deadline": "2023-03-31", "is_open": True},
    {"year": 2024, "title": "2024年度绩效自评", "deadline": "2025-03-31", "is_open": True},
    {"year": 2025, "title": "2025年度绩效自评", "deadline": "2026-12-31", "is_open": True},
]

# role: "officer" (填报人 of `unit`), "reviewer" (财政局, may review all units), or one of the three
# administrator roles (issue 18, 三员分立). No demo account is a superuser: that account exists only
# for emergencies (`manage.py createsuperuser`).
USERS = [
    {"username": "lukou", "first_name": "渌口区委政法委填报人", "role": "officer", "unit": "中共株洲市渌口区委政法委员会"},
    {"username": "nanyue", "first_name": "南岳区委政法委填报人", "role": "officer", "unit": "中共衡阳市南岳区委政法委员会"},
    {"username": "lusong", "first_name": "芦淞区委政法委填报人", "role": "officer", "unit": "中共株洲市芦淞区委政法委员会"},
    {"username": "wangcheng", "first_name": "望城区委政法委填报人", "role": "officer", "unit": "中共长沙市望城区委政法委员会"},
    {"username": "yuelu", "first_name": "岳麓区委政法委填报人", "role": "officer", "unit": "中共长沙市岳麓区委员会政法委员会"},
    {"username": "caizheng", "first_name": "财政局绩效科审核人", "role": "reviewer", "unit": None},
    {"username": "portaladmin", "first_name": "系统管理员", "role": "system_admin", "unit": None},
    {"username": "anquan", "first_name": "安全管理员", "role": "security_admin", "unit": None},
    {"username": "shenji", "first_name": "审计管理员", "role": "audit_admin", "unit": None},
]
