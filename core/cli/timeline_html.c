/* The HTML timeline: one self-contained page (inline CSS, JavaScript and
 * SVG; no URL anywhere) that opens from a file, a CI artifact or a mail
 * attachment with no network.  The rows travel as JSON in the page and a
 * small script draws the bars, so a 10,000-step run is one compact
 * document rather than 10,000 hand-positioned elements; the graph is SVG
 * drawn here (timeline_graph.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnable/plugin.h"
#include "timeline.h"

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}\n"
    "h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}\n"
    "code{font-family:ui-monospace,monospace}\n"
    ".status{padding:1px 8px;border-radius:9px;font-size:13px;color:#fff;background:#2e7d32}\n"
    ".status.st-FAIL{background:#c62828}.status.st-RUNNING{background:#b7791f}\n"
    "#summary{color:#555;margin:0}\n"
    "#controls{margin:8px 0;color:#555;font-size:13px}\n"
    ".row{display:grid;grid-template-columns:minmax(180px,28%) 90px 1fr;align-items:center;"
    "min-height:20px;border-bottom:1px solid #f0f0f0}\n"
    ".row:hover{background:#f7f9fc}\n"
    ".label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-size:13px}\n"
    ".group>.label{font-weight:600;cursor:pointer}\n"
    ".group>.label::before{content:'\\25BE  '}.group.closed>.label::before{content:'\\25B8  '}\n"
    ".dur{text-align:right;padding-right:10px;font-size:12px;color:#555;"
    "font-variant-numeric:tabular-nums}\n"
    ".track{position:relative;height:16px}\n"
    ".bar{position:absolute;top:2px;height:12px;min-width:2px;border-radius:2px;background:#43a047}\n"
    ".st-FAIL>.track>.bar{background:#e53935}\n"
    ".st-RUNNING>.track>.bar,.bar.open{background:repeating-linear-gradient(45deg,#f6c342 0 6px,"
    "#f9d976 6px 12px)}\n"
    ".group>.track>.bar{top:6px;height:4px;background:#5c7cba}\n"
    ".group.st-FAIL>.track>.bar{background:#c62828}\n"
    ".hidden{display:none}\n"
    "#axis{display:grid;grid-template-columns:minmax(180px,28%) 90px 1fr;font-size:11px;color:#777}\n"
    "#axis .ticks{position:relative;height:16px;border-bottom:1px solid #ccc}\n"
    "#axis .tick{position:absolute;transform:translateX(-50%);white-space:nowrap}\n"
    "#axis .tick:first-child{transform:none}#axis .tick:last-child{transform:translateX(-100%)}\n"
    "#graph svg{max-width:100%;height:auto}\n"
    "#graph .st-NOT_RUN text{fill:#888}\n"
    ".legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;"
    "border-radius:2px}\n";

static const char js[] =
    "(function(){\n"
    "var data=JSON.parse(document.getElementById('rn-data').textContent);\n"
    "var span=data.span>0?data.span:1,rows=document.getElementById('rows');\n"
    "function fmt(us){if(us<0)return '';if(us===0)return '0';if(us<1000)return us+' \\u00b5s';"
    "if(us<999500)return (us/1e3).toPrecision(3)+' ms';if(us<6e7)return (us/1e6).toFixed(3)+' s';"
    "var s=Math.round(us/1e6);if(s<3600)return Math.floor(s/60)+'m'+('0'+s%60).slice(-2)+'s';"
    "return Math.floor(s/3600)+'h'+('0'+Math.floor(s/60)%60).slice(-2)+'m';}\n"
    "var ticks=document.querySelector('#axis .ticks');\n"
    "for(var t=0;t<=4;t++){var e=document.createElement('span');e.className='tick';"
    "e.style.left=(t*25)+'%';e.textContent=fmt(Math.round(span*t/4));ticks.appendChild(e);}\n"
    "var els=[],bars=0,showSuccess=document.getElementById('show-success');\n"
    "data.rows.forEach(function(r,i){\n"
    " var row=document.createElement('div');\n"
    " row.className='row '+r.kind+' st-'+r.status+(r.type==='success'?' success-step hidden':'');\n"
    " var l=document.createElement('div');l.className='label';\n"
    " l.style.paddingLeft=(4+r.depth*16)+'px';\n"
    " l.textContent=r.label+(r.kind==='group'?' ['+r.type+']':'')+"
    "(r.attempts>1?'  (attempt '+r.attempt+' of '+r.attempts+')':'');\n"
    " var d=document.createElement('div');d.className='dur';"
    "d.textContent=r.start>=0?fmt(r.end-r.start)+(r.open?'+':''):'';\n"
    " var tr=document.createElement('div');tr.className='track';\n"
    " if(r.start>=0){var b=document.createElement('div');b.className='bar'+(r.open?' open':'');\n"
    "  b.style.left=(100*r.start/span)+'%';b.style.width=(100*(r.end-r.start)/span)+'%';\n"
    "  var tip=r.name+(r.kind==='group'?' ['+r.type+']':'')+'\\n'+r.status+"
    "(r.open?' (still running)':'')+', '+fmt(r.end-r.start)+'\\nfrom +'+fmt(r.start)+' to +'+fmt(r.end);\n"
    "  if(r.attempts>1)tip+='\\nattempt '+r.attempt+' of '+r.attempts;\n"
    "  if(r.exit_code!==undefined)tip+='\\nexit code '+r.exit_code;\n"
    "  if(r.max_rss_kb!==undefined)tip+='\\npeak memory '+Math.round(r.max_rss_kb/1024)+' MB';\n"
    "  if(r.message)tip+='\\n'+r.message;\n"
    "  b.title=tip;tr.appendChild(b);if(r.kind==='attempt')bars++;}\n"
    " row.appendChild(l);row.appendChild(d);row.appendChild(tr);rows.appendChild(row);els.push(row);\n"
    " if(r.kind==='group')l.onclick=function(){toggle(i,!row.classList.contains('closed'));};\n"
    "});\n"
    "function visible(i){var r=data.rows[i];return !(r.type==='success'&&r.kind==='attempt'&&"
    "!showSuccess.checked);}\n"
    "function toggle(i,close){var r=data.rows[i];els[i].classList.toggle('closed',close);\n"
    " for(var j=i+1;j<=i+r.ndesc;j++){var c=data.rows[j];\n"
    "  els[j].classList.toggle('hidden',close||!visible(j));\n"
    "  if(!close&&c.kind==='group'&&els[j].classList.contains('closed')){j+=c.ndesc;}}}\n"
    "showSuccess.onchange=function(){data.rows.forEach(function(r,i){"
    "if(r.type==='success'&&r.kind==='attempt'){var hid=!showSuccess.checked;"
    "for(var k=0;k<i;k++){var g=data.rows[k];if(g.kind==='group'&&els[k].classList.contains('closed')"
    "&&i<=k+g.ndesc)hid=true;}els[i].classList.toggle('hidden',hid);}});};\n"
    "/* big maps start folded: the page stays quick to read and to scroll */\n"
    "data.rows.forEach(function(r,i){if(r.kind==='group'&&r.ndesc>200)toggle(i,true);});\n"
    "document.body.setAttribute('data-bars',bars);\n"
    "document.getElementById('drawn').textContent=bars+' attempt bars drawn';\n"
    "})();\n";

/* One row as the script reads it. */
static json_t *row_json(const rn_tl_row *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:i, s:i, s:b, s:I}", "kind",
                          r->kind == RN_TL_GROUP ? "group" : "attempt", "name", r->name, "label",
                          r->label, "type", r->type, "status", r->status, "depth", r->depth,
                          "start", (json_int_t)r->start, "end", (json_int_t)r->end, "attempt",
                          r->attempt, "attempts", r->n_attempts, "open", r->open, "ndesc",
                          (json_int_t)r->n_desc);
    if (!o || !r->att)
        return o;
    json_t *v = json_object_get(r->att, "exit_code");
    if (json_is_integer(v))
        json_object_set(o, "exit_code", v);
    v = json_object_get(json_object_get(r->att, "resources"), "max_rss_kb");
    if (json_is_integer(v))
        json_object_set(o, "max_rss_kb", v);
    v = json_object_get(r->att, "message");
    if (json_is_string(v) && *json_string_value(v))
        json_object_set(o, "message", v);
    return o;
}

/* JSON inside <script>: '<' written as \u003c, so that no "</script>" or
 * "<!--" in a step's message can end or confuse the script element. */
static int append_script_json(rn_buf *out, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return -1;
    int rc = 0;
    for (const char *p = text, *q; *p && !rc; p = q) {
        q = strchr(p, '<');
        if (!q) {
            rc = rn_buf_append(out, p, strlen(p));
            break;
        }
        rc = rn_buf_append(out, p, (size_t)(q - p));
        if (!rc)
            rc = rn_buf_append(out, "\\u003c", 6);
        q++;
    }
    free(text);
    return rc < 0 ? -1 : 0;
}

int rn_tl_write_html(FILE *out, const rn_tl *tl)
{
    rn_buf b = {0};
    int rc = 0;
    const char *status = tl->running ? "RUNNING" : tl->status;
    char took[32];
    rn_tl_fmt_us(took, sizeof took, tl->span);
    size_t steps = 0;
    for (size_t i = 0; i < tl->n; i++)
        steps += tl->rows[i].kind == RN_TL_ATTEMPT && tl->rows[i].attempt == 1;

    rc |= rn_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                            "<meta name=\"viewport\" content=\"width=device-width\">\n"
                            "<title>runnable timeline: ");
    rc |= rn_tl_xml_escape(&b, tl->run_id);
    rc |= rn_buf_printf(&b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>Run <code>",
                        css);
    rc |= rn_tl_xml_escape(&b, tl->run_id);
    rc |= rn_buf_printf(&b, "</code> <span class=\"status st-%s\">%s</span></h1>\n", status, status);
    rc |= rn_buf_printf(&b, "<p id=\"summary\">started ");
    rc |= rn_tl_xml_escape(&b, tl->started ? tl->started : "-");
    rc |= rn_buf_printf(&b, " &middot; %s%s &middot; %zu steps, %zu attempts</p>\n</header>\n", took,
                        tl->running ? " so far (still running)" : "", steps, tl->n_attempts);
    rc |= rn_buf_printf(&b, "<section id=\"timeline\">\n<h2>Timeline</h2>\n"
                            "<div id=\"controls\"><label><input type=\"checkbox\" "
                            "id=\"show-success\"> show success steps</label> &middot; click a "
                            "composite step to fold it &middot; <span id=\"drawn\"></span>"
                            "<span class=\"legend\"><span style=\"background:#43a047\"></span>ran"
                            "<span style=\"background:#e53935\"></span>failed"
                            "<span style=\"background:#f6c342\"></span>running"
                            "<span style=\"background:#5c7cba\"></span>composite</span></div>\n"
                            "<div id=\"axis\"><span>step</span><span>duration</span>"
                            "<div class=\"ticks\"></div></div>\n<div id=\"rows\"></div>\n"
                            "<noscript><p>The timeline is drawn by the page's script; enable "
                            "JavaScript to see it.</p></noscript>\n</section>\n"
                            "<section id=\"graph\">\n<h2>Graph</h2>\n");
    if (!rc)
        rc = rn_tl_graph_svg(&b, tl);
    rc |= rn_buf_printf(&b, "</section>\n<script type=\"application/json\" id=\"rn-data\">");

    json_t *rows = json_array();
    json_t *data = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "run_id", tl->run_id, "status",
                             status, "started", tl->started ? tl->started : "", "t0_epoch_us",
                             (json_int_t)tl->t0_us, "span", (json_int_t)tl->span, "running",
                             tl->running, "rows", rows);
    if (!data)
        rc = -1;
    for (size_t i = 0; i < tl->n && !rc; i++)
        rc = json_array_append_new(rows, row_json(&tl->rows[i]));
    if (!rc)
        rc = append_script_json(&b, data);
    json_decref(data);
    rc |= rn_buf_printf(&b, "</script>\n<script>\n%s</script>\n</body>\n</html>\n", js);
    if (!rc && fwrite(b.data, 1, b.len, out) != b.len)
        rc = -1;
    rn_buf_free(&b);
    return rc || ferror(out) ? -1 : 0;
}
