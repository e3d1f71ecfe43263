from typing import Any

from django.core.management.base import BaseCommand

from rulecenter.announcements.demo import load_demo
from rulecenter.cases.demo import load_demo_cases
from rulecenter.consultations.demo import load_demo_consultations
from rulecenter.notifications.demo import DEMO_ADDRESS, load_demo_subscriptions
from rulecenter.rules.demo import load_demo_rules


class Command(BaseCommand):
    help = "加载演示数据（种子列表页的 12 条公告和示例规则库）；可重复运行，已有的不会重复创建。"

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_demo()
        self.stdout.write(f"演示数据：新建 {created} 条公告。" if created else "演示公告已存在，未做改动。")
        rules = load_demo_rules()
        self.stdout.write(f"演示数据：新建 {rules} 条规则。" if rules else "演示规则已存在，未做改动。")
        consultations = load_demo_consultations()
        if not consultations.consultations:
            self.stdout.write("演示意见征集已存在，未做改动。")
        else:
            self.stdout.write(
                f"演示数据：新建 {consultations.consultations} 项意见征集（含生成的投票和意见）。"
            )
            # Shown once, like a token: the demo member to try voting with on /consultations/ or the API.
            self.stdout.write(
                f"演示会员：{consultations.voter}，密码 {consultations.password}（在 /consultations/sign-in/ 登录），"
                f"API 令牌 {consultations.token}"
            )
        if load_demo_subscriptions():
            self.stdout.write(
                f"演示订阅：演示会员以 {DEMO_ADDRESS} 订阅了全部变更；演示的规则变更公示时，"
                "未配置邮件服务器的 make run 会把通知邮件打印在任务 worker 的输出里。"
            )
        if load_demo_cases():
            self.stdout.write(
                "演示申诉：演示会员对《1688商家发货行为管理规范》提出了一件申诉（/me/cases/，后台“申诉与投诉”）。"
            )
