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
    {
        # A 主管部门 (issue 14): it checks 岳麓's and 望城's submissions first (初审) in rounds that ask for it.
        "name": "中共长沙市委政法委员会",
        "short_name": "长沙市委政法委",
        "region": "长沙市",
        "supervisor": "",
        "supervises": ["中共长沙市岳麓区委员会政法委员会", "中共长沙市望城区委政法委员会"],
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

# role: "officer" (填报人 of `unit`), "supervisor" (主管部门审核人 of `unit`, issue 14), "reviewer" (财政局, may
# review all units), or one of the three
# administrator roles (issue 18, 三员分立). No demo account is a superuser: that account exists only
# for emergencies (`manage.py createsuperuser`).
USERS = [
    {"username": "lukou", "first_name": "渌口区委政法委填报人", "role": "officer", "unit": "中共株洲市渌口区委政法委员会"},
    {"username": "nanyue", "first_name": "南岳区委政法委填报人", "role": "officer", "unit": "中共衡阳市南岳区委政法委员会"},
    {"username": "lusong", "first_name": "芦淞区委政法委填报人", "role": "officer", "unit": "中共株洲市芦淞区委政法委员会"},
    {"username": "wangcheng", "first_name": "望城区委政法委填报人", "role": "officer", "unit": "中共长沙市望城区委政法委员会"},
    {"username": "yuelu", "first_name": "岳麓区委政法委填报人", "role": "officer", "unit": "中共长沙市岳麓区委员会政法委员会"},
    {"username": "changsha", "first_name": "长沙市委政法委初审人", "role": "supervisor", "unit": "中共长沙市委政法委员会"},
    {"username": "caizheng", "first_name": "财政局绩效科审核人", "role": "reviewer", "unit": None},
    {"username": "portaladmin", "first_name": "系统管理员", "role": "system_admin", "unit": None},
    {"username": "anquan", "first_name": "安全管理员", "role": "security_admin", "unit": None},
    {"username": "shenji", "first_name": "审计管理员", "role": "audit_admin", "unit": None},
]

# The season of the open round (issue 14): the approved 绩效目标 of one project, and the tasks the
# bureau issued. Dates are days from the day the demo is loaded (a late task stays late).
SEASON = {
    "year": 2025,
    "supervisor_review": True,  # the round asks for the 主管部门's 初审
    "targets": [
        {
            "unit": "中共衡阳市南岳区委政法委员会",
            "project_name": "综治、平安建设经费",
            "goals": "开展公众安全感民意调查和“平安县市区”考评，维护全区社会大局和谐稳定。",
            "rows": [
                # 一级, 二级, 三级, 指标值, 分值 (the national 表样: 产出 50, 效益 30, 满意度 10, 预算执行率 10)
                ("产出指标", "数量指标", "公众安全感民意调查", "≥10次", "20"),
                ("产出指标", "质量指标", "综治考评合格率", "=100%", "15"),
                ("产出指标", "时效指标", "考评完成及时率", "=100%", "15"),
                ("效益指标", "社会效益指标", "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "30"),
                ("满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "10"),
            ],
        },
    ],
    # (unit, project name or "" for 部门整体, days from today to the start, to the deadline)
    "tasks": [
        ("中共衡阳市南岳区委政法委员会", "综治、平安建设经费", -30, 20),
        ("中共衡阳市南岳区委政法委员会", "", -30, 20),
        ("中共长沙市岳麓区委员会政法委员会", "", -30, 20),
        ("中共长沙市望城区委政法委员会", "", -30, 2),
        ("中共株洲市芦淞区委政法委员会", "", -30, 20),
        ("中共株洲市渌口区委政法委员会", "", -30, -2),
    ],
    "warn_days": 3,
    "project_template": "national",
}
