"""Data of the injection detector (:mod:`ragkit.safety`): look-alike letters, invisible
characters, and the named patterns, English and Chinese.

The patterns run on *folded* text (:func:`ragkit.safety.canonical_text`): NFKC, invisible
characters removed, Cyrillic and Greek look-alikes turned into Latin letters,
runs of spaces collapsed (case kept). They are compiled with IGNORECASE and written in
lower case, with plain spaces.
"""

from __future__ import annotations

#: Cyrillic and Greek letters that look like Latin ones, folded to the Latin letter
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ү": "y", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Һ": "H", "Ӏ": "I",
    # Greek
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ϲ": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}

#: zero-width, joiner, bidi-control and other invisible format characters (removed)
INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
             "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
             "\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufe00\ufe01\ufe02\ufe03\ufe04"
             "\ufe05\ufe06\ufe07\ufe08\ufe09\ufe0a\ufe0b\ufe0c\ufe0d\ufe0e\ufe0f\ufeff\uffa0")

# ------------------------------------------------------------------ shared vocabulary
#: one character inside a sentence (a full stop counts as an end only before a space)
_S = r"(?:[^.!?。！？\n]|[.!?](?=\S))"
_IGNORE = (r"(?:ignore|disregard|forget|override|skip|bypass|discard|abandon|drop|neglect"
           r"|set aside|put aside|throw away|toss out|stop following|stop obeying"
           r"|(?:do not|don't|dont|no longer|never) (?:follow|obey|listen to|comply with)"
           r"|pay no attention to|never mind)")
_QUAL = (r"(?:all|any|every|previous|prior|above|earlier|preceding|original|initial|foregoing"
         r"|former|old|existing|current|usual|default|system|safety|hidden|these|those|your)")
_QUAL_ANY = _QUAL[:-1] + r"|the|of|and|other|given|developer'?s?|content)"
_TARGET = (r"(?:instructions?|prompts?|rules?|directions?|guidelines?|guidance|directives?"
           r"|context|messages?|restrictions?|limits?|limitations?|constraints?|polic(?:y|ies)"
           r"|programming|settings|configuration|commands?|orders)")
_VOID = (r"(?:obsolete|void|invalid|cancell?ed|fake|null|outdated|revoked|not real|a test"
         r"|irrelevant|no longer (?:valid|relevant|in effect|in force))")
_TOLD = (r"(?:you(?:'ve| have| were| had)? (?:been )?(?:told|given|taught|instructed|shown)"
         r"|(?:was|is|were|has been) (?:said|written|stated) (?:above|before|earlier))")
_AI = (r"(?:ai|a\.i\.|assistant|model|chatbot|bot|llm|gpt\w*|dan|unrestricted|uncensored"
       r"|unfiltered|jailbroken|evil|terminal|root|shell|hacker|activation keys?|license keys?"
       r"|passwords?|no (?:rules|restrictions|limits|limitations|guidelines|filters?|content "
       r"policy|policy|morals|ethics)|without (?:any )?(?:rules|restrictions|limits|guidelines"
       r"|filters?|warnings|censorship))")
_DIRECTED = (r"(?:you|your|assistant|\bai\b|model|stop|instead|ignore|user|system prompt"
             r"|answer|reply|respond|output|recommend|translate|from (?:this point|now) on"
             r"|summari[sz]|grant|obey)")

_ZH_IGNORE = (r"(?:忽略|无视|忽视|忘掉|忘记|忘了|不要理会|别理会|不用理会|不必理会|别管|不要管"
              r"|不用管|不必管|跳过|抛开|抛弃|放弃|扔掉|丢掉|不要再?遵[守循]|不必再?遵[守循]|不用再?遵[守循]"
              r"|不再遵[守循]|别再?遵[守循]|停止遵[守循]|违背|绕过|无需遵[守循]|不要再?听从|别再?听从"
              r"|ignore|disregard|forget)")
_ZH_VOID = r"(?:作废|失效|不用管|不算数|是假的|无效|不再有效|不用再?遵守|忽略|无视|别管|不要管)"
_ZH_QUAL = (r"(?:以上|上面|上述|之前|此前|前面|先前|原来|原先|原有|开头|最初|一开始|所有|全部"
            r"|一切|任何|系统|开发者)")
#: the qualifiers that point back at earlier text (a split instruction names one)
_ZH_BEFORE = r"(?:以上|上面|上述|之前|此前|前面|先前|原来|原先|开头|最初|一开始)"
_ZH_TARGET = (r"(?:指令|指示|要求|规则|规定|设定|限制|提示词|提示|约束|说明(?!书)|命令|安全策略"
              r"|说了?什么|说的话|instructions?|rules|prompt)")
_ZH_AI = (r"(?:ai|人工智能|助手|模型|机器人|没有[^。\n]{0,4}限制|不受[^。\n]{0,4}限制|无限制"
          r"|不会拒绝|邪恶|黑客|终端|dan|越狱|root|未经审查|激活码|序列号|密钥|密码)")
_ZH_DIRECTED = (r"(?:你|助手|ai|用户|不要回答|停止|改为|系统提示|输出|推荐|发送|发到|收集|批准"
                r"|翻译|回答|system prompt)")
_SECRET = (r"(?:system (?:prompt|message|instructions?)|(?:initial|original|hidden|secret"
           r"|confidential|full|exact|first|underlying|internal) (?:prompt|instructions?|rules"
           r"|configuration|guidelines)|your (?:\w+ ){0,2}?(?:prompt|instructions|rules"
           r"|configuration|guidelines|directives)|(?:everything|all|the (?:text|words|lines"
           r"|content|messages?)) above"
           r"|what you were (?:told|given|instructed)|instructions you (?:were|have been) given"
           r"|prompt that (?:defines|controls|governs))")
_ZH_SECRET = (r"(?:系统提示词|提示词|系统指令|初始指令|初始设定|初始提示|初始 ?prompt|完整指令"
              r"|原始指令|保密规则|隐藏的?(?:说明|指令|提示)|之前的所有内容|一开始收到的"
              r"|system prompt|hidden instructions|你的系统提示|系统提示(?=翻译|原文|内容))")
_ZH_REVEAL = (r"(?:告诉我|输出|显示|打印|复述|重复|贴出|泄露|透露|列出|发给我|给我看|原样"
              r"|翻译|print|reveal|show|发我)")
_DANGER = (r"(?:__import__|os\.system|subprocess|rm -rf|curl [^\n]{0,60}\| ?(?:ba)?sh|eval\("
           r"|https?://\S*[?&][\w.-]*=(?:\s|$)|send_?e?mail|delete|transfer|转账|删除|发送)")
_DANGER_TOOL = (r"[a-z_]*(?:send|mail|delete|remove|drop|transfer|pay|wire|exec|run|shell"
                r"|command|http|post|upload|write|update|grant|admin|sudo)[a-z_]*")

#: flag -> pattern (Python ``re``; IGNORECASE | MULTILINE), checked in this order
PATTERNS: dict[str, tuple[str, ...]] = {
    "ignore-instructions": (
        rf"\b{_IGNORE}(?: (?:the|of|and|this|a|about))*? {_QUAL}(?: {_QUAL_ANY}){{0,2}}"
        rf" {_TARGET}\b(?! from\b| (?:i|we) (?:sent|gave|wrote|mentioned|e-?mailed)\b)",
        rf"\b{_IGNORE} (?:all (?:of )?)?(?:the |everything )?(?:above|foregoing|preceding|previous)"
        r"(?: (?:this|that) (?:line|message|point|sentence))?(?= and\b|[.,;:!]|$)",
        rf"\b{_IGNORE} (?:the |all )?{_TARGET} (?:that )?(?:you|your \w+) (?:were|was|have"
        r"|had|gave|give|set|wrote|received|got)\b",
        rf"\b{_IGNORE} (?:everything|anything|all|what) (?:that )?{_TOLD}",
        rf"\b{_TARGET}\b(?: \w+){{0,5}}? (?:are|is|were|was) (?:now |hereby |all |just )?{_VOID}",
        rf"\b{_TARGET} (?:no longer|do not|don't) (?:apply|count|matter)\b",
        rf"\b(?:previous|prior|earlier|above|original|initial|your|those|these|the) (?:\w+ )?"
        rf"{_TARGET}\b.{{0,60}}?\b(?:ignore|disregard|forget|set|throw|toss|put) (?:them|it"
        r"|those)\b",
        rf"\b{_TARGET}\b.{{0,40}}?\b(?:pretend|act as if|assume) (?:they|it|those) (?:were|was"
        r"|had|never|did)\b",
    ),
    "new-instructions": (
        r"\b(?:new|updated|revised|real|actual|true|additional|secret|hidden|priority)"
        r" (?:system )?(?:instructions?|directives?) ?(?:[:—-]|\n)",
        r"\b(?:new|updated|revised|real|actual|true|additional|secret|hidden|priority)"
        r" (?:rules?|orders|task|objective|goal|mission|job|priority rule) ?(?:[:—-]|\n)"
        rf"(?=(?:{_S}|\n){{0,100}}?{_DIRECTED})",
        r"\b(?:your|the) (?:new|real|actual|true|only) (?:task|objective|goal|job|mission"
        r"|purpose|instructions?) (?:is|are|now)\b",
        r"\bthere is a new task\b",
    ),
    "role-override": (
        r"(?:\byou are now\b|\byou're now\b|\bfrom now on,? you (?:are|will|must|shall)\b"
        r"|\byou are no longer\b|\bpretend (?:that )?(?:you are|you're|to be)\b"
        r"|\bimagine (?:that )?you are\b|\brole-?play as\b|\bact as\b|\bbehave (?:like|as)\b"
        rf"|\byour new (?:identity|persona|name) is\b){_S}{{0,60}}?\b{_AI}\b",
        r"\b(?:developer|dan|jailbreak|god|unrestricted) mode\b|\bdo anything now\b"
        r"|\bstay in character\b|\bjailbroken\b|\bno content policy\b|\bnever refuses?\b"
        r"|\byou are dan\b|\bact as (?:an? )?(?:unrestricted|jailbroken|dan)\b",
    ),
    "reveal-prompt": (
        r"\b(?:reveal|print|show|repeat|output|display|share|paste|list|dump|disclose|recite"
        r"|spell out|write out|tell me|give me|send me|translate|leak|expose|copy)(?:ing)?\b"
        rf"[^.?!\n]{{0,40}}?{_SECRET}",
        r"\bwhat (?:were|are|have) you (?:been )?(?:told|instructed|programmed)\b"
        r"|\bwhat (?:is|was|does) your (?:system|initial|original|hidden) prompt\b",
    ),
    "fake-role-tag": (
        r"<\|?\s*(?:im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id"
        r"|end_header_id)\s*\|?>|\[/?inst\]|<<\s*/?sys\s*>>|</?(?:system|context|instructions?"
        r"|sys)>|<(?:start|end)_of_turn>|\[/?(?:tool_calls|available_tools|tool_results)\]",
        rf"(?:^|(?<=[.!?。！？]))\s*(?:#{{1,4}}\s*)?(?:system|assistant|user|human|系统|助手|用户)\s*"
        rf"[:：](?=(?:{_S}|\n){{0,80}}?"
        r"(?:\byou|\bmust\b|\brules?\b|\binstruction|\bignore|\bobey|\bassistant|\banswer"
        r"|\brespond|\breply|\boverride|\bdisabled?\b|\bprint|\breveal|\bsure\b|\bunderstood"
        r"|\brestriction|\bfilter|\bpriority|\badmin|\bpassword|你|必须|规则|指令|忽略|服从"
        r"|助手|回答|安全|过滤|限制|优先级|授权|管理员))",
        r"【系统(?:消息|指令|通知)?】(?=[^。！？\n]{0,60}?(?:你|必须|规则|指令|忽略|服从|助手|安全"
        r"|过滤|限制|优先级|授权|管理员))",
    ),
    "addressed-to-ai": (
        r"\b(?:note|message|instructions?|hidden text|text|reminder|attention|important)"
        r" (?:to|for) (?:any |the |all )?(?:automated |ai )?(?:ai|a\.i\.|llm|language model"
        r"|chatbot|bot|assistant|gpt|copilot)s?\b",
        r"\bif you are an? (?:ai|large language model|language model|llm|chatbot|assistant"
        r"|ai assistant|bot)\b",
        r"\b(?:ai|llm|chatbot|bot|assistant|language model)s? (?:that is |who is )?(?:reading"
        r"|processing|summari[sz]ing|parsing|analy[sz]ing|indexing) (?:this|these|the following)",
        r"\b(?:dear|attention|hey|hello) (?:ai|assistant|chatbot|llm|bot)\b"
        r"|\bto (?:the|any|all) (?:ai|llm|language model|assistant|chatbot)s? ?[:,]"
        r"|\bassistant, (?:when|if|please|you)\b"
        r"|\bmeant for the (?:automated |ai )?(?:assistant|ai|model|chatbot)\b"
        r"|\b(?:do not|don't|never) (?:tell|inform|alert|notify) the user\b",
        r"致[^。：:\n]{0,12}(?:ai|助手|模型|机器人)|给(?:ai|人工智能|聊天机器人|模型|大模型|助手"
        r"|机器人)的(?:隐藏)?(?:说明|指令|文字|提示|消息|留言)|如果你是[^。\n]{0,12}(?:ai|模型"
        r"|助手|机器人)|(?:处理|阅读|总结|读取)[^。\n]{0,8}的 ?(?:ai|助手|模型|机器人)"
        r"|(?:不要|别)(?:告诉|通知)用户|不要让用户知道",
    ),
    "fake-tool-call": (
        r"</?tool_call>|</?function_calls?>|<function=\w+>|\bfunction_call ?[:=]"
        r"|\baction: ?\w+\s*\n\s*action input ?:",
        rf"\"(?:tool|function|name|tool_name)\" ?: ?\"{_DANGER_TOOL}\"",
        rf"\b(?:call|use|invoke|run|execute|trigger) (?:the )?(?:tool )?(?!(?:a|an|the|any|this"
        rf"|that|one) )[\w-]+(?: tool)?\b{_S}{{0,120}}?{_DANGER}",
        r"调用[^。\n]{0,15}?(?:工具|函数|接口)[^。！？\n]{0,60}?(?:转账|删除|发送|http|rm -rf)"
        r"|执行(?:以下)?命令 ?[:：]? ?(?:rm |curl |del |format |shutdown|sudo )|调用转账",
    ),
    "exfiltration": (
        r"!?\[[^\]\n]{0,100}\]\( ?https?://[^\s)]*[?&][\w.-]*= ?(?:\{|\[|<|\$|%7b|%5b|%3c"
        r"|[^\x00-\x7f])",
        r"(?-i:!?\[[^\]\n]{0,100}\]\( ?https?://[^\s)]*[?&][\w.-]*=[A-Z][A-Z_]{3,}[)&])",
        r"https?://[^\s)]*[?&][\w.-]*=(?=[\s)\]，。,.]|$)",
        r"\b(?:append|add|attach|include|put|insert|encode|send|post|upload|forward|leak"
        r"|exfiltrate)\b[^.\n]{0,60}?\b(?:password|api key|secret|token|credentials?"
        r"|conversation|chat history|previous messages|messages|e-?mail address|phone number"
        rf"|system prompt|personal data)\b{_S}{{0,80}}?https?://",
        r"(?:聊天记录|对话内容|对话记录|密码|手机号|api ?密钥|密钥|系统提示词|个人信息|文件内容)"
        r"[^。\n]{0,20}?(?:发送到|发到|拼接到|附到|加到|填到|上传到|转发到|to)[^。\n]{0,10}?https?://",
    ),
    "zh-ignore-instructions": (
        rf"{_ZH_IGNORE}[^。！？\n]{{0,12}}?{_ZH_QUAL}[^。！？\n]{{0,8}}?{_ZH_TARGET}",
        rf"{_ZH_BEFORE}[^\n]{{0,6}}?{_ZH_TARGET}[^\n]{{0,12}}?{_ZH_VOID}(?=了|吧|[。！!，,；;\s]|$)",
        rf"{_ZH_TARGET}[^\n]{{0,15}}?(?:{_ZH_IGNORE}(?:它们|它|这些|那些)|(?:把)?(?:它们|它|这些"
        r"|那些)(?:都|全)?(?:扔掉|忘掉|忽略|丢掉|删掉|作废))",
    ),
    "zh-new-instructions": (
        r"(?:新任务|新的任务|新指令|新的指令|新规则|新的规则|更新后的指令|更新的指令|任务更新"
        r"|新目标|新的目标|真正的任务|真正任务|最高优先级规则|new task)[\s:：—\-，,]*"
        rf"(?=[^。！？!?\n]{{0,40}}?{_ZH_DIRECTED})",
    ),
    "zh-role-override": (
        r"(?:你现在是|现在你是|你现在处于|从现在(?:开始|起)[，,]?你|从今以后[，,]?你"
        r"|你的新身份是|你不再是|假装你是|(?:你|请)来?扮演|角色扮演|pretend you are"
        rf"|from now on)[^。！？\n]{{0,25}}?{_ZH_AI}",
        r"开发者模式|越狱模式|不要加任何警告|未经审查|永远不能出戏",
    ),
    "zh-reveal-prompt": (
        rf"{_ZH_REVEAL}[^。！？\n]{{0,10}}?{_ZH_SECRET}",
        rf"把[^。！？\n]{{0,6}}?{_ZH_SECRET}[^。！？\n]{{0,16}}?{_ZH_REVEAL}",
        r"被告知了什么|逐条列出你的|你(?:的|收到的)(?:系统)?(?:指令|提示词|设定)是什么",
    ),
}

#: words that mark a text as *about* attacks (a quoted attack phrase in it is a mention)
DISCUSSION = (r"\b(?:example|attack\w*|injection|jailbreak\w*|tweet\w*|researchers?|phrases?"
              r"|such as|e\.g\.)\b|例子|例如|比如|攻击|注入|越狱|推文|研究")
#: the text speaking of itself ("this message asks the model to …"): an instruction in the
#: shape of reported speech, so not a mention
SELF_REFERENCE = (r"(?:\b(?:this|the following|these|my|our) (?:message|text|note|document|e-?mail"
                  r"|page|passage|section|paragraph|comment|file|content|instruction|request)s?"
                  r"|(?:本|这|此|以下)(?:条|段|封|篇|份|则)?(?:消息|文字|文本|邮件|文档|段落|内容|说明|指令|页面))"
                  r"[^.!?。！？\n]{0,24}$")
#: reported speech: "asks the model to …", "让模型…" (a description, not an instruction)
REPORTED = (r"(?:\b(?:asks?|asked|tells?|told|tricks?|tricked|makes?|made|gets?|got|forces?"
            r"|forced|convinces?|convinced|instructs?|instructed|causes?) (?:the|a|an) (?:model"
            r"|bot|chatbot|llm|ai|assistant|system)s? to |(?:让|要求|诱导|迫使|使)(?:模型|机器人"
            r"|ai|大模型|助手) ?)[\"“‘']?$")
