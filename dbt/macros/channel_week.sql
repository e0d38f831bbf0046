{#- The per-channel columns of product_channel_weekly, written once for
    TikTok and Amazon: channel is the column prefix (tiktok, amazon), sums
    the daily counts a week adds up, amounts the money columns, in the
    channel's column order. #}

{#- weekly: the week's totals. sum() of a Nullable column is NULL when every
    day is NULL: a channel without data stays NULL, it does not become 0. #}
{% macro channel_week_sums(channel, sums, amounts) -%}
    {% for m in sums %}sum({{ channel }}_{{ m }}) as sum_{{ channel }}_{{ m }},
        {% endfor -%}
        uniqExact({{ channel }}_currency) as {{ channel }}_currencies,
        any({{ channel }}_currency) as any_{{ channel }}_currency,
        {% for m in amounts %}sum({{ channel }}_{{ m }}) as sum_{{ channel }}_{{ m }},
        {% endfor -%}
{%- endmacro %}

{#- figures: the week's columns. Amounts are never added across currencies:
    a week whose days came in several has NULL amounts and a NULL currency. #}
{% macro channel_week_figures(channel, sums, amounts) -%}
    {% for m in sums %}w.sum_{{ channel }}_{{ m }} as {{ channel }}_{{ m }},
        {% endfor -%}
        if(w.{{ channel }}_currencies = 1, w.any_{{ channel }}_currency, null) as {{ channel }}_currency,
        {% for m in amounts %}if(w.{{ channel }}_currencies = 1, w.sum_{{ channel }}_{{ m }}, null) as {{ channel }}_{{ m }},
        {% endfor -%}
{%- endmacro %}
