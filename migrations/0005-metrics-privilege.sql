-- metrics.view: scraping /metrics (Prometheus). Administrators get it; the new built-in role
-- Monitoring holds nothing else, for the API token a Prometheus server scrapes with.

UPDATE roles SET privileges = json_insert(privileges, '$[#]', 'metrics.view')
 WHERE name = 'Administrator' AND builtin = 1
   AND NOT EXISTS (SELECT 1 FROM json_each(roles.privileges) WHERE value = 'metrics.view');

INSERT INTO roles (name, privileges, builtin) VALUES ('Monitoring', '["metrics.view"]', 1);
