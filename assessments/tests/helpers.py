"""Helpers to post the entry form the way a browser would."""

import re

from django.urls import reverse

from assessments import scoring

SEED_004_INDICATORS = [
    # level1, level2, name, target, actual, weight
    ("产出指标", "数量指标", "指标1：坚持源头治理，防范风险，组织实施风险评估项目数量", "对涉及群众重大利益的项目全部组织实施风险评估", "全年对涉及群众重大利益的19个项目全部组织实施风险评估", "5"),
    ("产出指标", "数量指标", "指标2：积极动员，参与疫情防控工作人员数量", "以最高的政治站位和使命担当来开展疫情防控工作", "派出37名政法单位班子成员下沉到社区协助疫情防控", "5"),
    ("产出指标", "数量指标", "指标3：防控网络安全风险，打击网络犯罪数量", "严厉打击新型网络犯罪，重点打击治理电信网络违法犯罪", "公安机关共破获电信网络诈骗案件270起", "5"),
    ("产出指标", "质量指标", "指标1：扫黑除恶专项斗争取得新的成效", "深入开展六大行动", "今年新增打击侦破涉恶集团9个", "5"),
    ("产出指标", "质量指标", "指标2：提高学生风险防范意识和遵法守法观念", "降低校园刑事案件发案率", "校园刑事案件发案166起，同比下降61.8%", "5"),
    ("产出指标", "质量指标", "指标3：发挥统筹协调、督查督办职能，促进企业健康发展", "督办涉企事项，办结率达100%", "交办督办涉企事项，办结率达100%。", "5"),
    ("产出指标", "时效指标", "指标1：区政法各项工作任务年度完成情况", "各项工作任务年底前基本完成", "基本在规定的时间内完成", "10"),
    ("产出指标", "成本指标", "指标1：精简机关运行经费，严格按预算执行", "以预算控制支出", "2020年“三公”经费支出合计0.00万元", "5"),
    ("产出指标", "成本指标", "指标2：有效合理使用各类专项资金，无超出规定用途的支出", "100%", "100%", "5"),
    ("效益指标", "经济效益指标", "指标1：维护好企业的合法权益", "排查化解经济领域的矛盾纠纷，激发市场主体活力", "共调解涉企业案件14起，调解成功11件", "10"),
    ("效益指标", "社会效益指标", "指标1：维护社会治安持续稳定的社会局面", "防控社会稳定风险，及时处置，化解矛盾", "稳控重点人员426人", "10"),
    ("效益指标", "可持续影响指标", "指标1：推动清正廉洁风气的可持续影响", "提高党员干部的遵规守纪的政治自觉和行动自觉", "每月组织机关干部集中学习", "10"),
    ("满意度指标", "服务对象满意度指标", "指标1：群众对全区政法工作满意度", "满意", "满意", "10"),
]

SEED_001_TABLE_1 = [
    ("产出指标", "数量指标", "公众安全感民意调查", "≥10次", "10次", "", ""),
    ("产出指标", "数量指标", "“平安县市区”工作考评", "≥10次", "10次", "", ""),
    ("产出指标", "质量指标", "综治考评合格率", "=100%", "=100%", "", ""),
    ("产出指标", "时效指标", "考评完成及时率", "=100%", "=100%", "", ""),
    ("产出指标", "成本指标", "综治平安经费", "=36万元", "=30.64万元", "", "本年减少了对各乡镇、社区的维稳、综治等工作的补助经费支出"),
    ("效益指标", "社会效益指标", "有助于维护社会秩序", "有所帮助", "有所帮助", "", ""),
    ("效益指标", "社会效益指标", "全区社会大局和谐稳定，人民群众安全感提升", "有所推升", "有所推升", "", ""),
    ("满意度指标", "服务对象满意度指标", "人民群众满意度", "≥95%", "=95%", "", ""),
]


def form_data(response) -> dict:
    """The entry form's current values, as the browser would post them."""
    return response.context["entry"].as_post_data()


def set_indicators(data: dict, rows, *, outcome_for_text="achieved") -> dict:
    """Replace the indicator rows in `data` with `rows` (new rows, posted as extra forms)."""
    initial = int(data["indicators-INITIAL_FORMS"])
    for key in [k for k in data if k.startswith("indicators-") and k.split("-")[1].isdigit()]:
        if int(key.split("-")[1]) >= initial:
            del data[key]
    for n in range(initial):
        data[f"indicators-{n}-DELETE"] = "on"
    for offset, (level1, level2, name, target, actual, *rest) in enumerate(rows):
        n = initial + offset
        weight = rest[0] if rest else ""
        reason = rest[1] if len(rest) > 1 else ""
        data.update(
            {
                f"indicators-{n}-level1": level1,
                f"indicators-{n}-level2": level2,
                f"indicators-{n}-name": name,
                f"indicators-{n}-target": target,
                f"indicators-{n}-actual": actual,
                f"indicators-{n}-weight": weight,
                f"indicators-{n}-reason": reason,
                f"indicators-{n}-ORDER": str(offset + 1),
                f"indicators-{n}-outcome": outcome_for_text if scoring.parse_value(target) is None else "",
                f"indicators-{n}-score": "",
            }
        )
    data["indicators-TOTAL_FORMS"] = str(initial + len(rows))
    return data


def fill_seed_004(data: dict) -> dict:
    """Seed 004's table as the 岳麓 officer types it (13 rows, 99.67)."""
    data["header-duties"] = "贯彻落实中央和省、市委关于政法工作的路线、方针、政策。"
    data["header-staff_actual"] = "21"
    data["funding-0-budget"], data["funding-0-actual"] = "10949.23", "10584.29"
    data["funding-1-budget"], data["funding-1-actual"] = "10949.23", "10584.29"
    data["funding-2-budget"], data["funding-2-actual"] = "0.00", "0.00"
    for n, actual in enumerate(["1379.15", "1210.08", "169.07", "9205.14"]):
        data[f"structure-{n}-actual"] = actual
    data["goals-0-target"] = "全力维护社会大局稳定"
    data["goals-0-achieved"] = "各项工作取得了新成效"
    set_indicators(data, SEED_004_INDICATORS)
    data["sections-0-body"] = "维护全区社会稳定。"
    return data


def without_countdown(content: bytes) -> str:
    """A page without the session's countdown (`data-session-expires-in`), which follows the clock:
    two openings a second apart differ there and nowhere else."""
    return re.sub(r'data-session-expires-in="\d+"', "", content.decode())


def edit_url(assessment) -> str:
    return reverse("assessments:edit", args=[assessment.pk])


def detail_url(assessment) -> str:
    return reverse("assessments:detail", args=[assessment.pk])


def body(response) -> bytes:
    """A response's bytes, whether streamed (a stored file) or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def as_json(response):
    import json

    return json.loads(body(response))


def stored(name: str) -> bytes:
    """A file the portal stored (local disk, or the S3 bucket of the PostgreSQL run)."""
    from portal import storage

    return storage.read_bytes(name)


def stored_names(folder: str) -> list[str]:
    """The files stored directly under `folder`, sorted."""
    from django.core.files.storage import default_storage

    return sorted(default_storage.listdir(folder)[1])


def browser_login(page, live_server, username, landing="/assessments/"):
    """Log in through the login page in a real browser and wait for the role's first page."""
    from .conftest import PASSWORD

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{landing}")
