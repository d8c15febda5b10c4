# Flatten a JSON document into "path<TAB>value" lines (busybox awk).
#
# Paths join object keys and array indexes with "/", e.g. networks/0/ip_address.
# Only scalars are printed; strings are unescaped (\" \\ \/; \n \r \t become a space and
# trailing blanks are dropped so one value stays on one line), other
# scalars (numbers, true, false, null) are printed as written. Works on compact
# and pretty-printed input alike: the whole input is read before parsing.
# On malformed input it prints what it parsed so far and exits 1.

{ doc = doc $0 "\n" }

END {
    pos = 1
    n = length(doc)
    skip_ws()
    if (!parse_value("")) exit 1
}

function skip_ws(    c) {
    while (pos <= n) {
        c = substr(doc, pos, 1)
        if (c != " " && c != "\t" && c != "\n" && c != "\r") return
        pos++
    }
}

function emit(path, value) {
    sub(/^\//, "", path)
    sub(/[ \t]+$/, "", value)
    printf "%s\t%s\n", path, value
}

function parse_value(path,    c, s, tok) {
    c = substr(doc, pos, 1)
    if (c == "{") return parse_object(path)
    if (c == "[") return parse_array(path)
    if (c == "\"") {
        s = parse_string()
        if (s == "\001") return 0
        emit(path, s)
        return 1
    }
    tok = ""
    while (pos <= n && substr(doc, pos, 1) ~ /[-+.0-9a-zA-Z]/) {
        tok = tok substr(doc, pos, 1)
        pos++
    }
    if (tok == "") return 0
    emit(path, tok)
    return 1
}

function parse_object(path,    key, c) {
    pos++
    skip_ws()
    if (substr(doc, pos, 1) == "}") { pos++; return 1 }
    while (pos <= n) {
        skip_ws()
        if (substr(doc, pos, 1) != "\"") return 0
        key = parse_string()
        if (key == "\001") return 0
        skip_ws()
        if (substr(doc, pos, 1) != ":") return 0
        pos++
        skip_ws()
        if (!parse_value(path "/" key)) return 0
        skip_ws()
        c = substr(doc, pos, 1)
        pos++
        if (c == "}") return 1
        if (c != ",") return 0
    }
    return 0
}

function parse_array(path,    i, c) {
    pos++
    skip_ws()
    if (substr(doc, pos, 1) == "]") { pos++; return 1 }
    i = 0
    while (pos <= n) {
        skip_ws()
        if (!parse_value(path "/" i)) return 0
        i++
        skip_ws()
        c = substr(doc, pos, 1)
        pos++
        if (c == "]") return 1
        if (c != ",") return 0
    }
    return 0
}

function parse_string(    out, c, e) {
    pos++
    out = ""
    while (pos <= n) {
        c = substr(doc, pos, 1)
        if (c == "\"") { pos++; return out }
        if (c == "\\") {
            pos++
            e = substr(doc, pos, 1)
            if (e == "n" || e == "t" || e == "r" || e == "b" || e == "f") out = out " "
            else if (e == "u") { out = out "\\u" substr(doc, pos + 1, 4); pos += 4 }
            else out = out e
            pos++
            continue
        }
        out = out c
        pos++
    }
    return "\001"
}
