-- between: every non-NULL value of the column lies in [min_value, max_value].
-- (dbt_utils has one too; the project installs no dbt packages, so that it
-- builds without reaching the dbt hub.)
{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }} as value
from {{ model }}
where {{ column_name }} is not null
    and not ({{ column_name }} >= {{ min_value }} and {{ column_name }} <= {{ max_value }})
{% endtest %}
