// Labels in Chinese (the default) and English. t(key) looks a label up; unknown keys show as themselves.
const ZH = {
  brand: "民情工作台", skip: "跳到正文", loading: "加载中…", sign_out: "退出", sign_in: "登录",
  username: "用户名", password: "密码", continue: "继续", cancel: "取消", submit: "提交", save: "保存",
  relogin_title: "登录已过期", relogin_text: "请重新输入密码继续，未保存的内容不会丢失。",
  login_title: "工作人员登录", login_failed: "用户名或密码错误", login_locked: "尝试次数过多，请稍后再试",
  nav_board: "派单台", nav_queue: "我的待办", nav_intake: "受理登记", nav_dashboard: "领导驾驶舱", nav_public: "公示",
  role_admin: "管理员", role_dispatcher: "调度员", role_handler: "承办人", role_clerk: "窗口受理员",
  role_supervisor: "督查员", role_auditor: "审计员",
  // statuses and SLA
  st_received: "已受理", st_assigned: "已派单", st_accepted: "办理中", st_resolved: "已办结", st_closed: "已关闭",
  st_needs_dispatch: "待派单", st_suspended: "已挂起", st_duplicate: "重复件", st_return_review: "退单待审",
  sla_ok: "正常", sla_warning: "黄牌", sla_overdue: "红牌",
  prio_emergency: "紧急", prio_high: "优先", prio_normal: "一般",
  ch_hotline: "热线", ch_web: "网站", ch_app: "移动端", ch_window: "窗口", ch_station: "接待站", ch_visit: "走访",
  // board
  board_title: "派单台", tab_needs_dispatch: "待派单", tab_overdue: "红牌", tab_warning: "黄牌", tab_open: "全部在办",
  open_total: "在办总数", color_by: "地图着色", color_open: "在办量", color_overdue: "超期数",
  updated_at: "更新于", no_requests: "暂无工单", unlocated: "未定位到网格",
  legend_none: "无", requests_n: "件",
  // queue
  queue_title: "我的待办", queue_mine: "我承办的", queue_units: "本单位待认领", queue_co: "会办任务",
  due: "期限", respond_by: "响应期限", resolve_by: "办结期限", time_left: "剩余工作时间", overdue_by: "已超期",
  working_hours: "工时", minutes: "分钟", hours: "小时",
  // detail
  detail_title: "工单详情", citizen_words: "群众诉求", category: "类别", status: "状态", priority: "优先级",
  channel: "渠道", received_at: "受理时间", location: "位置", address: "地址", unit: "所属单位", handler: "承办人",
  lead_unit: "主办单位", co_units: "协办单位", citizen: "诉求人", phone: "电话", name: "姓名", reveal: "显示完整信息",
  trail: "办理轨迹", chain_ok: "轨迹校验完整", chain_bad: "轨迹校验失败", deadlines: "期限",
  actions: "办理操作", "act_return-review": "退单审核", act_co_accept: "协办签收", act_co_reply: "协办答复",
  decision: "审核意见", review_confirm: "同意退单（重新派单）", review_reject: "驳回（退回原单位）", act_accept: "签收", act_note: "记录进展", act_suspend: "挂起", act_resume: "恢复办理", act_return: "退单",
  act_resolve: "办结", act_reassign: "改派", act_joint: "会办", act_escalate: "上报", act_classify: "分类",
  note: "说明", public_note: "向群众公开", reason: "原因", outcome: "办理结果", reply: "答复群众",
  out_resolved: "已解决", out_explained: "已解释说明", out_unresolvable: "无法解决",
  ret_not_ours: "非本单位职责", ret_wrong_location: "地点有误", ret_wrong_category: "类别有误",
  assign_to: "派给", team: "网格服务团队", department: "职能部门", member: "具体承办人(可选)", search: "搜索",
  search_team: "按名称搜索团队", search_department: "按名称搜索部门", choose: "请选择", open_load: "在办",
  on_duty: "在岗", action_done: "操作成功", conflict: "工单已被他人更新，已刷新，请重试",
  back: "返回", open: "打开", none: "无", version: "版本",
  // intake
  intake_title: "受理登记", description: "诉求内容", category_search: "搜索类别（中文或代码）",
  map_click: "在地图上点击选择位置", lat: "纬度", lon: "经度", org_unit_code: "社区/网格代码", anonymous: "保密（仅调度员可见）",
  check_dup: "查重", dup_found: "可能是重复诉求：以下在办工单与本诉求相似，提交后将并入原工单。",
  dup_none: "未发现重复诉求", submit_anyway: "仍然提交", created: "已受理，请告知群众受理编号",
  tracking_no: "受理编号", citizen_token: "查询码", new_request: "继续登记", duplicate_of: "已并入原工单",
  // dashboard
  dashboard_title: "领导驾驶舱", period: "考核期", level: "层级", metric: "指标", lv_city: "全市", lv_district: "区县",
  lv_street: "街道", lv_community: "社区", lv_grid: "网格", drill_up: "返回上级",
  m_satisfaction_index: "满意指数", m_three_rate_score: "三率综合分", m_response_rate: "响应率",
  m_resolution_rate: "解决率", m_satisfaction_rate: "满意率",
  rankings: "排名", rank: "名次", value: "数值", interval: "95%区间", n: "样本数", trends: "月度趋势",
  alerts: "热点预警", download_csv: "下载CSV", breakdown: "明细", no_run: "该考核期尚无评分结果",
  unranked: "无数据，不排名", sources: "数据来源", prior: "先验", formulas: "计算公式", counts: "计数",
  hotspot: "热点", last_24h: "24小时内",
  // public
  public_title: "民情办理公示", public_intro: "各单位群众诉求办理情况（经审核后公布，不含任何个人信息）。",
  evaluated: "评价件数", leader_contacts: "领导干部联系基层情况", post: "职务", links: "联系点",
  quota: "应联系次数", contacts: "实际联系次数", met: "达标联系点", published_at: "公布时间",
  not_published: "该考核期尚未公布结果", as_of: "数据截至",
  error: "出错了", forbidden: "无权访问", not_found: "未找到", retry: "重试", offline: "网络连接失败",
  // trail event kinds
  ev_received: "受理", ev_routed: "自动派单", ev_needs_dispatch: "转人工派单", ev_reassigned: "改派", ev_accepted: "签收",
  ev_resolved: "办结", ev_closed: "关闭", ev_reopened: "重办", ev_note: "进展", ev_suspended: "挂起", ev_resumed: "恢复",
  ev_returned: "退单", ev_return_requested: "申请退单", ev_return_confirmed: "退单通过", ev_return_rejected: "退单驳回",
  ev_escalated: "上报", ev_classified: "分类", ev_joint: "会办", ev_co_task_accepted: "协办签收",
  ev_co_task_replied: "协办答复", ev_co_task_waived: "免于协办", ev_co_task_cancelled: "协办取消",
  ev_sla_warning: "黄牌预警", ev_sla_overdue: "红牌超期", ev_supervised: "督办", ev_reminded: "催办",
  ev_extension_requested: "申请延期", ev_extension_approved: "延期批准", ev_extension_rejected: "延期驳回",
  ev_duplicate: "重复件", ev_duplicate_linked: "并入原件", ev_duplicate_unlinked: "解除重复", ev_pii_viewed: "查看个人信息",
  ev_feedback: "群众评价",
};

const EN = {
  brand: "Minqing console", skip: "Skip to content", loading: "Loading…", sign_out: "Sign out", sign_in: "Sign in",
  username: "Username", password: "Password", continue: "Continue", cancel: "Cancel", submit: "Submit", save: "Save",
  relogin_title: "Your session expired", relogin_text: "Enter your password again to go on; nothing you typed is lost.",
  login_title: "Staff sign-in", login_failed: "Wrong username or password", login_locked: "Too many attempts; try again later",
  nav_board: "Dispatch board", nav_queue: "My queue", nav_intake: "Intake", nav_dashboard: "Leaders' dashboard", nav_public: "Disclosure",
  role_admin: "Admin", role_dispatcher: "Dispatcher", role_handler: "Handler", role_clerk: "Window clerk",
  role_supervisor: "Supervisor", role_auditor: "Auditor",
  st_received: "Received", st_assigned: "Assigned", st_accepted: "In progress", st_resolved: "Resolved", st_closed: "Closed",
  st_needs_dispatch: "Needs dispatch", st_suspended: "Suspended", st_duplicate: "Duplicate", st_return_review: "Return under review",
  sla_ok: "On time", sla_warning: "Warning", sla_overdue: "Overdue",
  prio_emergency: "Emergency", prio_high: "High", prio_normal: "Normal",
  ch_hotline: "Hotline", ch_web: "Web", ch_app: "App", ch_window: "Window", ch_station: "Station", ch_visit: "Visit",
  board_title: "Dispatch board", tab_needs_dispatch: "Needs dispatch", tab_overdue: "Overdue", tab_warning: "Warning", tab_open: "All open",
  open_total: "Open in all", color_by: "Colour map by", color_open: "Open load", color_overdue: "Overdue count",
  updated_at: "Updated", no_requests: "No requests", unlocated: "Not located in a grid",
  legend_none: "none", requests_n: "",
  queue_title: "My queue", queue_mine: "Mine", queue_units: "My unit's queue", queue_co: "Joint tasks",
  due: "Due", respond_by: "Respond by", resolve_by: "Resolve by", time_left: "Working time left", overdue_by: "Overdue by",
  working_hours: "working h", minutes: "min", hours: "h",
  detail_title: "Request", citizen_words: "The citizen's words", category: "Category", status: "Status", priority: "Priority",
  channel: "Channel", received_at: "Received", location: "Location", address: "Address", unit: "Unit", handler: "Handler",
  lead_unit: "Lead unit", co_units: "Co-units", citizen: "Citizen", phone: "Phone", name: "Name", reveal: "Show in full",
  trail: "Trail", chain_ok: "Trail verified", chain_bad: "Trail check FAILED", deadlines: "Deadlines",
  actions: "Actions", "act_return-review": "Review return", act_co_accept: "Accept co-task", act_co_reply: "Reply as co-unit",
  decision: "Decision", review_confirm: "Confirm (re-route)", review_reject: "Reject (back to the unit)", act_accept: "Accept", act_note: "Add note", act_suspend: "Suspend", act_resume: "Resume", act_return: "Return",
  act_resolve: "Resolve", act_reassign: "Reassign", act_joint: "Joint handling", act_escalate: "Escalate", act_classify: "Classify",
  note: "Note", public_note: "Public (shown to the citizen)", reason: "Reason", outcome: "Outcome", reply: "Reply to the citizen",
  out_resolved: "Resolved", out_explained: "Explained", out_unresolvable: "Cannot be resolved",
  ret_not_ours: "Not our duty", ret_wrong_location: "Wrong location", ret_wrong_category: "Wrong category",
  assign_to: "Assign to", team: "Grid team", department: "Department", member: "Handler (optional)", search: "Search",
  search_team: "Search teams by name", search_department: "Search departments by name", choose: "Choose", open_load: "open",
  on_duty: "on duty", action_done: "Done", conflict: "Someone else changed this request; reloaded, please retry",
  back: "Back", open: "Open", none: "none", version: "Version",
  intake_title: "Intake", description: "What the citizen says", category_search: "Search categories (Chinese or code)",
  map_click: "Click the map to set the location", lat: "Latitude", lon: "Longitude", org_unit_code: "Community/grid code",
  anonymous: "Confidential (dispatchers only)",
  check_dup: "Check duplicates", dup_found: "Possible duplicate: these open requests look the same; submitting links it to the original.",
  dup_none: "No duplicates found", submit_anyway: "Submit anyway", created: "Received. Read the tracking number to the citizen",
  tracking_no: "Tracking number", citizen_token: "Citizen token", new_request: "Next request", duplicate_of: "Linked to the original",
  dashboard_title: "Leaders' dashboard", period: "Period", level: "Level", metric: "Metric", lv_city: "City", lv_district: "Districts",
  lv_street: "Streets", lv_community: "Communities", lv_grid: "Grids", drill_up: "Up one level",
  m_satisfaction_index: "Satisfaction index", m_three_rate_score: "Three-rate score", m_response_rate: "Response rate",
  m_resolution_rate: "Resolution rate", m_satisfaction_rate: "Satisfaction rate",
  rankings: "Rankings", rank: "Rank", value: "Value", interval: "95% interval", n: "n", trends: "Monthly trends",
  alerts: "Hot-spot alerts", download_csv: "Download CSV", breakdown: "Breakdown", no_run: "No scores for this period yet",
  unranked: "No data, not ranked", sources: "Sources", prior: "Prior", formulas: "Formulas", counts: "Counts",
  hotspot: "Hot spot", last_24h: "in 24 h",
  public_title: "Public disclosure", public_intro: "How each unit handled the public's requests (published after review; no personal data).",
  evaluated: "Evaluated", leader_contacts: "Leaders' grassroots contacts", post: "Post", links: "Links",
  quota: "Quota", contacts: "Contacts", met: "Links meeting quota", published_at: "Published",
  not_published: "Nothing published for this period yet", as_of: "As of",
  error: "Something went wrong", forbidden: "Not allowed", not_found: "Not found", retry: "Retry", offline: "Network error",
  ev_received: "Received", ev_routed: "Routed", ev_needs_dispatch: "To a dispatcher", ev_reassigned: "Reassigned",
  ev_accepted: "Accepted", ev_resolved: "Resolved", ev_closed: "Closed", ev_reopened: "Reopened", ev_note: "Note",
  ev_suspended: "Suspended", ev_resumed: "Resumed", ev_returned: "Returned", ev_return_requested: "Return requested",
  ev_return_confirmed: "Return confirmed", ev_return_rejected: "Return rejected", ev_escalated: "Escalated",
  ev_classified: "Classified", ev_joint: "Joint handling", ev_co_task_accepted: "Co-unit accepted",
  ev_co_task_replied: "Co-unit replied", ev_co_task_waived: "Co-unit waived", ev_co_task_cancelled: "Co-unit cancelled",
  ev_sla_warning: "Warning", ev_sla_overdue: "Overdue", ev_supervised: "Supervision order", ev_reminded: "Reminder",
  ev_extension_requested: "Extension requested", ev_extension_approved: "Extension approved",
  ev_extension_rejected: "Extension rejected", ev_duplicate: "Duplicate", ev_duplicate_linked: "Linked as duplicate",
  ev_duplicate_unlinked: "Unlinked", ev_pii_viewed: "Personal data viewed", ev_feedback: "Citizen's evaluation",
};

const DICTS = { zh: ZH, en: EN };
let lang = localStorage.getItem("minqing.lang") === "en" ? "en" : "zh";

export function t(key) {
  return DICTS[lang][key] ?? ZH[key] ?? key;
}

export function currentLang() {
  return lang;
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh";
  localStorage.setItem("minqing.lang", lang);
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  applyStatic();
}

/** Labels of the static shell (elements with data-i18n). */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

/** A unit's or category's name in the current language (English name when there is one). */
export function nameOf(item) {
  if (!item) return "";
  return lang === "en" && item.name_en ? item.name_en : item.name;
}
